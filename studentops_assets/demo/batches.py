"""Simulate the students batch by batch, on a pool of processes, and hand each batch over as CSV.

Every student draws from their own random streams and the scale K is fixed beforehand (`activity.plan`),
so a batch's rows depend only on its students: the output is the same for any batch size and any
number of workers. Batches come back in student order, and at most two per worker are in flight, so
memory stays bounded whatever the number of students.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from .activity import Plan, simulate_students
from .platform_db import csv_text

# Platform table -> attribute of activity.Activity.
TABLES = (
    ("file_viewing_sessions", "sessions"),
    ("points_transactions", "ledger"),
    ("user_course_activities", "course_activities"),
    ("user_tasks", "tasks"),
    ("user_notes", "notes"),
    ("user_recent_files", "recent_files"),
    ("audit_logs", "audit"),
    ("demo_truth.student_disengagement", "truth"),
)
ROWS_PER_BATCH = 60_000  # roughly: ~2.4 rows per student-day


@dataclass
class Batch:
    csv: dict[str, tuple[str, int]]  # table -> (CSV text, row count)
    points: dict[str, int]  # user id -> points earned in this batch's activity
    last_change: dict[str, dt.datetime]  # user id -> time of their last points transaction here


def default_batch_students(days: int) -> int:
    return max(20, ROWS_PER_BATCH * 10 // (24 * days))


def default_workers() -> int:
    return len(os.sched_getaffinity(0))


def _batch(plan: Plan, lo: int, hi: int) -> Batch:
    activity = simulate_students(plan, plan.catalog.students[lo:hi])
    return Batch({table: (csv_text(rows), len(rows))
                  for table, rows in ((table, getattr(activity, attr)) for table, attr in TABLES)},
                 activity.points, activity.last_change)


# The plan of the running generation, set before the pool forks: the workers inherit it (with the
# whole catalog) instead of unpickling it for every batch.
_PLAN: Plan | None = None


def _batch_in_worker(lo: int, hi: int) -> Batch:
    assert _PLAN is not None, "worker started without a plan"
    return _batch(_PLAN, lo, hi)


def simulate_batches(plan: Plan, batch_students: int, workers: int) -> Iterator[Batch]:
    if batch_students < 1 or workers < 1:
        raise ValueError("batch_students and workers must be at least 1")
    n = len(plan.catalog.students)
    ranges = [(lo, min(lo + batch_students, n)) for lo in range(0, n, batch_students)]
    if workers == 1 or len(ranges) == 1:
        for lo, hi in ranges:
            yield _batch(plan, lo, hi)
        return
    global _PLAN
    _PLAN = plan
    try:
        # fork: the workers share the parent's catalog pages; spawn would rebuild or pickle it.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(workers, len(ranges)), mp_context=context) as pool:
            pending_ranges = iter(ranges)
            pending = deque()

            def submit() -> None:
                batch = next(pending_ranges, None)
                if batch is not None:
                    pending.append(pool.submit(_batch_in_worker, *batch))

            for _ in range(2 * workers):
                submit()
            while pending:
                result = pending.popleft().result()
                submit()
                yield result
    finally:
        _PLAN = None
