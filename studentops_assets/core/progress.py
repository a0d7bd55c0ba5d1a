"""What the CLI shows while it works: a live display on a terminal (rich), plain lines otherwise.

On a terminal one status area is redrawn a few times a second (current step, steps done / total,
elapsed since the command started, dbt's model count) and finished lines scroll above it. Without
a terminal (CI, a pipe, a log file) the same events are printed as plain lines, plus a heartbeat
line when nothing happened for a while, so that no stretch of the output is silent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

# The command's start: `studentops` imports this module first thing in every command, so elapsed
# times (and the closing summary) count start-up too (server, dbt parse, definitions).
COMMAND_STARTED = time.monotonic()
HEARTBEAT_SECONDS = 15.0


def elapsed() -> float:
    return time.monotonic() - COMMAND_STARTED


def stamp() -> str:
    return f"[{elapsed():6.1f}s]"


class Display:
    """Lines that stay (`line`) and a status that changes (`status`), on a terminal or as plain text.

    `status_of` is called on every redraw and returns the status text (one or more lines)."""

    def __init__(self, out: TextIO, status_of: Callable[[], str] | None = None):
        self.out = out
        self.console = Console(file=out, highlight=False, soft_wrap=True)
        self.live_mode = self.console.is_terminal
        self.status_of = status_of or (lambda: "")
        self._phase = ""
        self._live: Live | None = None
        self._lock = threading.Lock()
        self._last_output = time.monotonic()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # -- lines ---------------------------------------------------------------------------------
    def line(self, text: str) -> None:
        with self._lock:
            self._last_output = time.monotonic()
            if self._live is not None:
                self._live.console.print(Text(text))
            else:
                self.out.write(text + "\n")
                self.out.flush()

    def phase(self, text: str) -> None:
        """A stage of the command (starting the server, parsing dbt, ...): shown as the status on a
        terminal, printed as a line otherwise."""
        self._phase = text
        if not self.live_mode:
            self.line(f"  {stamp()} {text}")

    # -- the live area -------------------------------------------------------------------------
    def _renderable(self):
        status = self.status_of() or self._phase
        spinner = Spinner("dots", text=Text(f"{status}  {_clock(elapsed())}"))
        return Group(spinner)

    def __enter__(self) -> "Display":
        if self.live_mode:
            self._live = Live(console=self.console, get_renderable=self._renderable, refresh_per_second=4,
                              transient=True, redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        else:
            self._heartbeat = threading.Thread(target=self._beat, name="studentops-heartbeat", daemon=True)
            self._heartbeat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=2)

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            if time.monotonic() - self._last_output >= HEARTBEAT_SECONDS:
                status = self.status_of() or self._phase
                self.line(f"  {stamp()} ... {status}" if status else f"  {stamp()} ... working")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:d}:{secs:02d} elapsed"


@contextmanager
def phases(out: TextIO) -> Iterator[Display]:
    """A display for a command's stages before (or without) a run: one spinner with the stage name."""
    with Display(out) as display:
        yield display
