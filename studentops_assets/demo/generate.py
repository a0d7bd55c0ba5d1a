"""`studentops demo`: fill the platform database and write the study sources of the configured
students, as a pure function of (seed, students, days, end_date, vault_students)."""

from __future__ import annotations

import datetime as dt
import pathlib
import time
from contextlib import closing
from dataclasses import dataclass, field

from psycopg2.extensions import parse_dsn

from . import activity, calendars, config_file, platform_db, references, vault
from .batches import default_batch_students, default_workers, simulate_batches
from .catalog import build_catalog, configured_students, users_rows
from .files import DemoFiles
from .timeline import Window, local_to_utc

# Catalog tables in load order (the activity tables stream in per batch; users come last).
CATALOG_TABLES = ("majors", "courses", "lecturers", "material_types", "materials", "file_requests")


@dataclass(frozen=True)
class DemoSummary:
    home: pathlib.Path
    seed: int
    students: int
    days: int
    start_date: dt.date
    end_date: dt.date
    tables: dict[str, int]
    files: tuple[str, ...]
    configured: tuple[str, ...]  # slugs of the students with study sources
    disengaged: int
    stale_files_removed: int = 0
    seconds: float = field(default=0.0, compare=False)

    def __str__(self) -> str:
        public = {k: v for k, v in self.tables.items() if not k.startswith("demo_truth.")}
        biggest = ", ".join(f"{k} {v:,}" for k, v in sorted(public.items(), key=lambda kv: -kv[1])[:4])
        return (
            f"Demo data for {self.students} students over {self.days} days "
            f"({self.start_date} to {self.end_date}, seed {self.seed}) in {self.seconds:.1f}s\n"
            f"  platform: {sum(public.values()):,} rows in {len(public)} tables ({biggest}, ...); "
            f"{self.disengaged} students planted as disengaging (demo_truth)\n"
            f"  files: {len(self.files)} under {self.home} for {', '.join(self.configured) or 'no students'}"
            + (f" ({self.stale_files_removed} stale demo files removed)" if self.stale_files_removed else "")
        )


def generate_demo(home: pathlib.Path, platform_dsn: str, *, students: int = 500, days: int = 300,
                  seed: int = 7, end_date: dt.date | None = None, vault_students: int = 3,
                  warehouse_port: int = 54329, workers: int | None = None,
                  batch_students: int | None = None) -> DemoSummary:
    """`workers` processes (default: the usable cores) simulate `batch_students` students at a time
    (default: about 60k rows a batch); neither changes the data, only the speed and the memory used."""
    if students < 1:
        raise ValueError("students must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    if not 0 <= vault_students <= students:
        raise ValueError(f"vault_students must be between 0 and students ({students})")
    started = time.perf_counter()
    home = pathlib.Path(home)
    # Yesterday by default: the last day must be complete, or its events would lie in the future and
    # an incremental loader's cursor would start ahead of the platform's real clock.
    end_date = end_date or dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    window = Window.ending(end_date, days)

    catalog = build_catalog(seed, students, window)
    plan = activity.plan(seed, catalog)
    with platform_db.PlatformLoad(platform_dsn) as platform:
        for table in CATALOG_TABLES:
            platform.rows(table, catalog.rows[table])
        platform.rows("points_transactions", catalog.ledger)
        platform.rows("audit_logs", catalog.audit)
        points, last_change = activity.points_by_user(catalog.ledger)
        batches = simulate_batches(plan, batch_students or default_batch_students(days),
                                   workers or default_workers())
        with closing(batches):
            for batch in batches:
                for table, (text, count) in batch.csv.items():
                    platform.csv(table, text, count)
                # A user's activity is all in one batch; only the catalog's upload awards add to it.
                for user, amount in batch.points.items():
                    points[user] = points.get(user, 0) + amount
                for user, at in batch.last_change.items():
                    last_change[user] = max(last_change.get(user, at), at)
        # Last: the users' points totals need every batch.
        platform.rows("users", users_rows(catalog, points, last_change))
        platform.rows("demo_truth.generation", [(seed, students, days, end_date, window.generated_at)])
        counts = platform.finish()

    files = DemoFiles(home)
    removed = files.clean()
    # Fixed file times no later than the start of end_date, so they are never in the future.
    clock = local_to_utc(end_date, 0)
    configured = configured_students(catalog, vault_students)
    slugs = config_file.student_slugs(configured)
    database = parse_dsn(platform_dsn).get("dbname") or "platform"
    files.write("studentops.yaml", config_file.render(configured, slugs, database, warehouse_port), clock)
    for i, (student, slug) in enumerate(zip(configured, slugs)):
        timetable = calendars.timetable(seed, catalog, student)
        notes, read_for = vault.build_vault(seed, student, timetable, window, with_broken_note=i == 0)
        for note in notes:
            files.write(f"vault/{slug}/{note.path}", note.text, min(note.mtime, clock))
        files.write(f"calendars/{slug}/lectures.ics", calendars.lectures_ics(student, timetable, window), clock)
        files.write(f"calendars/{slug}/study-blocks.ics",
                    calendars.study_blocks_ics(seed, student, timetable, window), clock)
        files.write(f"inbox/demo-{slug}-extra.ics", calendars.extra_ics(student, timetable, window), clock)
        keys = sorted(read_for)
        files.write(f"inbox/demo-{slug}.bib", references.bibtex(student.name, keys, end_date.isoformat()), clock)
        files.write(f"inbox/demo-{slug}.ris", references.ris(keys, read_for), clock)
    files.write_manifest(clock)

    return DemoSummary(
        home=home, seed=seed, students=students, days=days, start_date=window.start, end_date=end_date,
        tables=counts, files=tuple(files.written), configured=tuple(slugs),
        disengaged=sum(1 for s in catalog.students if s.onset_day is not None),
        stale_files_removed=removed, seconds=time.perf_counter() - started,
    )
