"""The platform tables StudentOps replicates, and how each one stays in step with its source.

- `replace`: small reference tables, copied whole every run (deletions included for free).
- `merge` + cursor: mutable tables with an `updated_at`; rows merged on the primary key.
- `append` + cursor: append-only tables (the XP ledger, the audit log): new keys are inserted,
  existing ones never touched (dlt's insert-only merge).
- `delete_detection`: tables keyed by one id whose rows may be deleted at the source; after each
  load the id sets are compared and rows gone from the source are removed (dlt's sql_database source
  only ever sees rows that exist, so it cannot notice a deletion by itself).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformTable:
    name: str
    primary_key: tuple[str, ...]
    disposition: str  # replace | merge | append
    cursor: str | None = None
    # Re-read this many seconds behind the cursor: rows whose cursor value was written out of order
    # (a session still being updated, a late transaction) are caught on the next run.
    lag_seconds: int = 0
    delete_detection: bool = False
    description: str = ""

    @property
    def raw_table(self) -> str:
        return f"platform_{self.name}"


PLATFORM_TABLES: tuple[PlatformTable, ...] = (
    PlatformTable("majors", ("id",), "replace", description="Majors (degree programmes)."),
    PlatformTable("lecturers", ("id",), "replace", description="Lecturers."),
    PlatformTable("material_types", ("id",), "replace", description="Material types: Slides, Exam, Lecture Notes, Summary, Homework."),
    PlatformTable("users", ("id",), "merge", "updated_at", 3600, True, "Platform users (students and admins) with their XP total."),
    PlatformTable("courses", ("id",), "merge", "updated_at", 3600, True, "Courses; `code` is the join key across the warehouse."),
    PlatformTable("materials", ("id",), "merge", "updated_at", 3600, True, "Course materials with their text (for chunking later)."),
    PlatformTable("file_requests", ("id",), "merge", "updated_at", 3600, True, "Upload requests and their review status."),
    PlatformTable("points_transactions", ("id",), "append", "created_at", 3600, False, "Append-only XP ledger."),
    PlatformTable(
        "file_viewing_sessions", ("id",), "merge", "started_at", 86400, True,
        "One row per material viewing session: active seconds and completion.",
    ),
    PlatformTable("user_course_activities", ("user_id", "course_id"), "merge", "updated_at", 3600, False, "Per student and course: engagement status and files completed."),
    PlatformTable("user_tasks", ("id",), "merge", "updated_at", 3600, True, "Students' planned tasks."),
    PlatformTable("user_notes", ("id",), "merge", "updated_at", 3600, True, "Students' notes on materials."),
    PlatformTable("user_recent_files", ("user_id", "file_id"), "merge", "last_opened_at", 3600, False, "Last opening time per student and file."),
    PlatformTable("audit_logs", ("id",), "append", "created_at", 3600, False, "Append-only audit log of platform actions."),
)

BY_RAW_TABLE = {t.raw_table: t for t in PLATFORM_TABLES}
