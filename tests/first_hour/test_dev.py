"""`studentops dev` as a user runs it: the URL only once the UI answers, no warnings a user cannot act
on, and SIGTERM or SIGINT stop the webserver, the daemon and all their children within seconds."""

from __future__ import annotations

import signal
import time
import urllib.request

import psutil
import pytest

from ..conftest import Home, free_port, start_dev


@pytest.fixture(scope="module")
def dev_home(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("dev-home"), free_port())
    (home.path / "studentops.yaml").write_text("timezone: Europe/Amsterdam\n", encoding="utf-8")
    yield home
    home.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_dev_prints_the_url_when_it_answers_and_stops_on_a_signal(dev_home, sig):
    port = free_port()
    proc, lines = start_dev(dev_home, port)
    try:
        assert any("Dagster UI on" in line for line in lines), "".join(lines)
        # Printed only once the webserver answers: it answers right away.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as response:
            assert response.status == 200
        family = [proc.pid, *(p.pid for p in psutil.Process(proc.pid).children(recursive=True))]
        assert len(family) >= 3  # this process, the webserver and the daemon (and their code servers)

        proc.send_signal(sig)
        stopped_at = time.monotonic()
        rest, _ = proc.communicate(timeout=30)
        lines.append(rest)
        assert time.monotonic() - stopped_at < 20
        assert proc.returncode == 0, "".join(lines)
        time.sleep(0.5)
        alive = [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        assert alive == [], alive
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(lines)
    assert "SupersessionWarning" not in output and "will not be used" not in output, output
