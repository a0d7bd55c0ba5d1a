"""Write the generated platform into the `platform` database: recreate the schema, bulk-load the
tables with COPY from CSV, batch by batch, then add keys and indexes, all in one transaction (a failed
run leaves the previous demo intact)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from importlib.resources import files

import psycopg2

COLUMNS: dict[str, tuple[str, ...]] = {
    "majors": ("id", "name", "slug"),
    "users": ("id", "email", "name", "role", "major_id", "total_points", "created_at", "updated_at"),
    "courses": ("id", "code", "name", "major_id", "year_id", "semester", "created_at", "updated_at"),
    "lecturers": ("id", "name"),
    "material_types": ("id", "display_name"),
    "materials": ("id", "title", "academic_year", "material_year", "course_id", "lecturer_id", "type_id",
                  "uploader_id", "notes", "file_url", "content", "created_at", "updated_at"),
    "file_requests": ("id", "user_id", "course_id", "title", "type_id", "status", "admin_note", "material_id",
                      "created_at", "updated_at"),
    "points_transactions": ("id", "user_id", "amount", "action", "reason", "request_id", "source_id",
                            "created_at"),
    "file_viewing_sessions": ("id", "user_id", "file_id", "course_id", "started_at", "active_seconds",
                              "required_active_seconds", "completion_score", "is_complete"),
    "user_course_activities": ("user_id", "course_id", "status", "files_completed", "total_files", "updated_at"),
    "user_tasks": ("id", "user_id", "title", "date", "start_hour", "duration", "priority", "completed",
                   "created_at", "updated_at"),
    "user_notes": ("id", "user_id", "course_id", "material_id", "content", "created_at", "updated_at"),
    "user_recent_files": ("user_id", "file_id", "last_opened_at"),
    "audit_logs": ("id", "actor_id", "action", "entity", "entity_id", "details", "created_at"),
    "demo_truth.student_disengagement": ("user_id", "disengaged", "onset_date", "half_life_days", "base_rate"),
    "demo_truth.generation": ("seed", "students", "days", "end_date", "generated_at_fixed"),
}

_AFTER_LOAD = "-- @after-load"


def schema_sql() -> tuple[str, str]:
    text = files(__package__).joinpath("platform_schema.sql").read_text(encoding="utf-8")
    before, after = text.split(_AFTER_LOAD, 1)
    return before, after


def _cell(value: object) -> object:
    # COPY csv reads an unquoted empty field as NULL, so None maps to "" and an empty string would be
    # misread: the generator never produces one (checked here rather than silently turned into NULL).
    if value is None:
        return ""
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value == "":
        raise ValueError("empty string would load as NULL")
    return value


def _csv(rows: list[tuple]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def csv_text(rows: list[tuple]) -> str:
    """CSV of rows that are ready as they are: booleans already 't'/'f', None for NULL, no empty
    strings (the activity generator's rows; csv writes datetimes and dates with str(), which is their
    isoformat, as `_cell` does). Skipping `_cell` per value halves the cost of the biggest tables."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


class PlatformLoad:
    """One transaction: the schema's tables, any number of COPYs per table, then keys, indexes and
    ANALYZE in `finish()`. Closing without `finish()` rolls everything back."""

    def __init__(self, dsn: str) -> None:
        self.counts: dict[str, int] = {table: 0 for table in COLUMNS}
        self._conn = psycopg2.connect(dsn)
        self._cur = self._conn.cursor()
        self._cur.execute("SET TIME ZONE 'UTC'")
        # The keys and indexes built after the load sort millions of rows at 100k students: more
        # memory for this transaction's sorts than the server's default (this session only).
        self._cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
        self._cur.execute(schema_sql()[0])

    def rows(self, table: str, rows: list[tuple]) -> None:
        self.csv(table, _csv(rows), len(rows))

    def csv(self, table: str, text: str, count: int) -> None:
        if not count:
            return
        # FREEZE: the tables were created in this transaction, so the rows can be written frozen and
        # the first readers (the loaders) need not rewrite every page to set hint bits.
        self._cur.copy_expert(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN WITH (FORMAT csv, FREEZE)",
                              io.StringIO(text))
        self.counts[table] += count

    def finish(self) -> dict[str, int]:
        self._cur.execute(schema_sql()[1])
        for table in COLUMNS:
            self._cur.execute(f"ANALYZE {table}")
        self._conn.commit()
        return dict(self.counts)

    def close(self) -> None:
        self._conn.close()  # rolls back an unfinished load

    def __enter__(self) -> "PlatformLoad":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load(dsn: str, tables: dict[str, list[tuple]]) -> dict[str, int]:
    with PlatformLoad(dsn) as platform:
        for table in COLUMNS:
            platform.rows(table, tables[table])
        return platform.finish()
