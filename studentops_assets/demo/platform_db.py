"""Write the generated platform into the `platform` database: recreate the schema, bulk-load every
table with COPY from in-memory CSV, then add keys and indexes, all in one transaction (a failed run
leaves the previous demo intact)."""

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


def _csv(rows: list[tuple]) -> io.StringIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    buffer.seek(0)
    return buffer


def load(dsn: str, tables: dict[str, list[tuple]]) -> dict[str, int]:
    before, after = schema_sql()
    counts: dict[str, int] = {}
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute(before)
            for table, columns in COLUMNS.items():
                rows = tables[table]
                cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", _csv(rows))
                counts[table] = len(rows)
            cur.execute(after)
            for table in COLUMNS:
                cur.execute(f"ANALYZE {table}")
    finally:
        conn.close()
    return counts
