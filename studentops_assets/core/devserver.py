"""`studentops dev`: the Dagster webserver and daemon as two child process groups of this process.

Not `dagster dev`: that wrapper prints a SupersessionWarning ("use dg dev") a StudentOps user cannot
act on, and took minutes to exit on SIGTERM. Here the webserver and the daemon each run in a process
group of their own (their code servers and run workers are in it too); SIGTERM or SIGINT to this
process stops both groups: SIGTERM first, SIGKILL for whatever is left after a grace period.
The UI's address is printed once the webserver answers, not before.

Both run with `--log-format json`; what they print is relayed (core/logs.py) as JSON lines to
`$STUDENTOPS_HOME/logs/daemon.jsonl` and `webserver.jsonl`, and as readable lines to the terminal.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from .errors import StudentOpsError
from .instance import REPO_ROOT
from .logs import ChildLogRelay, logs_dir, readable
from .progress import Display, elapsed

GRACE_SECONDS = 8.0


def _executable(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    if found is None:
        raise StudentOpsError(f"the `{name}` command is not installed in this environment")
    return found


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/server_info", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


class _Stop(Exception):
    pass


def _stop_groups(children: list[subprocess.Popen]) -> None:
    """SIGTERM every child's process group, then SIGKILL what is still there after the grace period."""
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        # The group leader may be gone while its children (code servers, run workers) linger.
        _signal_group(child, signal.SIGKILL)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_dev(host: str, port: int, start_timeout: float) -> int:
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    workspace = str(REPO_ROOT / "workspace.yaml")
    env = dict(os.environ)
    # Dagster warns about a dagster.yaml in the working directory that is not DAGSTER_HOME's (the
    # repository's own, which DAGSTER_HOME links to): run from DAGSTER_HOME, where the two are one.
    # The workspace's paths are relative to workspace.yaml, so the code location loads the same.
    log_dir = logs_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    json_logs = ["--log-format", "json"]
    commands = {
        "daemon": [_executable("dagster-daemon"), "run", "-w", workspace, *json_logs],
        "webserver": [_executable("dagster-webserver"), "-w", workspace, "-h", host, "-p", str(port), *json_logs],
    }

    def on_signal(signum, _frame):
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    children: list[subprocess.Popen] = []
    relays: list[threading.Thread] = []
    url = f"http://{host}:{port}"
    try:
        for name, command in commands.items():
            child = subprocess.Popen(command, cwd=dagster_home, env=env, start_new_session=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
            children.append(child)
            relays.append(_start_relay(child, ChildLogRelay(name, log_dir / f"{name}.jsonl")))
        with Display(sys.stdout) as display:
            display.phase(f"starting the Dagster webserver and daemon (the UI answers on {url} when ready)")
            deadline = time.monotonic() + start_timeout
            while not _answers(url):
                for child in children:
                    if child.poll() is not None:
                        raise StudentOpsError(f"`{' '.join(child.args[:2])}` exited with {child.returncode} while starting")
                if time.monotonic() > deadline:
                    raise StudentOpsError(f"the Dagster UI did not answer on {url} within {start_timeout:.0f}s")
                time.sleep(0.5)
        click.echo(f"studentops: Dagster UI on {url} (ready after {elapsed():.0f}s; instance: {dagster_home}; "
                   "Ctrl-C stops it)")
        while True:
            for child in children:
                if child.poll() is not None:
                    raise StudentOpsError(f"`{' '.join(child.args[:2])}` exited with {child.returncode}")
            time.sleep(0.5)
    except _Stop as stop:
        click.echo(f"studentops: {stop}: stopping the Dagster webserver and daemon")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_groups(children)
        for relay in relays:
            relay.join(timeout=5)


_terminal_lock = threading.Lock()


def _start_relay(child: subprocess.Popen, relay: ChildLogRelay) -> threading.Thread:
    """Read the child's output to its end: JSON lines to its log file, readable lines to the terminal."""

    def run() -> None:
        for line in child.stdout:
            _show(relay.feed(line))
        _show(relay.flush())

    thread = threading.Thread(target=run, name=f"studentops-dev-{relay.source}-logs", daemon=True)
    thread.start()
    return thread


def _show(records: list[dict]) -> None:
    with _terminal_lock:
        for record in records:
            # The terminal is the user's: a closed one (the session ended) must not stop the relay.
            try:
                sys.stderr.write(readable(record) + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
