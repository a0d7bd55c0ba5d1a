"""`studentops demo`: fill the platform database and write the study sources of the configured
students, as a pure function of (seed, students, days, end_date, vault_students)."""

from __future__ import annotations

import datetime as dt
import pathlib
import time
from dataclasses import dataclass, field

from psycopg2.extensions import parse_dsn

from . import calendars, config_file, platform_db, references, vault
from .activity import points_by_user, simulate
from .catalog import build_catalog, configured_students, users_rows
from .files import DemoFiles
from .timeline import Window, local_to_utc


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
                  warehouse_port: int = 54329) -> DemoSummary:
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
    activity = simulate(seed, catalog)
    ledger = catalog.ledger + activity.ledger
    points, last_change = points_by_user(ledger)
    tables = dict(catalog.rows)
    tables.update({
        "users": users_rows(catalog, points, last_change),
        "points_transactions": ledger,
        "file_viewing_sessions": activity.sessions,
        "user_course_activities": activity.course_activities,
        "user_tasks": activity.tasks,
        "user_notes": activity.notes,
        "user_recent_files": activity.recent_files,
        "audit_logs": catalog.audit + activity.audit,
        "demo_truth.student_disengagement": activity.truth,
        "demo_truth.generation": [(seed, students, days, end_date, window.generated_at)],
    })
    counts = platform_db.load(platform_dsn, tables)

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
