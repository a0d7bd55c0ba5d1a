"""Resident memory of a `studentops materialize` process tree while it runs.

A thread samples the command's process and all of its descendants (Dagster's run worker and the
step processes the multiprocess executor forks) every `interval` seconds and keeps (time, total RSS).
After the run the samples are attributed to the stages whose steps were running at that moment (from
the event log's step times), so a stage's peak is the tree's peak while any of its steps ran; when
steps of two stages overlap, both see the same total.
"""

from __future__ import annotations

import threading
import time

import psutil


class TreeRssSampler:
    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for process in processes:
                try:
                    total += process.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue  # a step process that ended between listing and reading
            self.samples.append((time.time(), total))
            self._stop.wait(self.interval)

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)

    def peak_between(self, intervals: list[tuple[float, float]]) -> int:
        return max((rss for at, rss in self.samples if any(start <= at <= end for start, end in intervals)), default=0)


def mib(n_bytes: int) -> float:
    return round(n_bytes / 2**20, 1)
