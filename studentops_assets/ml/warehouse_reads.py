"""The warehouse reads the ML assets share (one SQL per input, typed for polars)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from .features import DAILY_SCHEMA, STUDENTS_SCHEMA, VIEWS_SCHEMA
from .tables import read_frame

# The columns each read returns: stored column -> the type it is read as. feature_inputs.py hashes the
# same stored columns (a read value is a function of the stored one), so a column added to a read is
# fingerprinted too and a week cannot go stale behind a column it never hashed.
DAILY_COLUMNS = {
    "student_id": "text", "activity_date": "date", "sessions": "bigint", "active_minutes": "float8",
    "completions": "bigint", "xp": "bigint", "tasks_done": "bigint", "notes_edited": "bigint",
    "calendar_study_minutes": "float8",
}
VIEWS_COLUMNS = {"student_id": "text", "started_local_date": "date", "course_code": "text"}
VIEWS_FILTER = "course_code is not null"
STUDENTS_COLUMNS = {"student_id": "text", "joined_local_date": "date"}


def _select(columns: dict[str, str]) -> str:
    return ", ".join(f"{name}::{type_}" for name, type_ in columns.items())


def daily_engagement(conn, since: dt.date, before: dt.date | None = None) -> pl.DataFrame:
    sql = f"select {_select(DAILY_COLUMNS)} from marts.fact_daily_engagement where activity_date >= %s"
    params: list = [since]
    if before is not None:
        sql += " and activity_date < %s"
        params.append(before)
    return read_frame(conn, sql, params, schema=DAILY_SCHEMA)


def course_views(conn, since: dt.date, before: dt.date) -> pl.DataFrame:
    return read_frame(
        conn,
        f"select distinct {_select(VIEWS_COLUMNS)} from marts.fact_material_views "
        f"where started_local_date >= %s and started_local_date < %s and {VIEWS_FILTER}",
        [since, before],
        schema=VIEWS_SCHEMA,
    )


def students(conn) -> pl.DataFrame:
    return read_frame(conn, f"select {_select(STUDENTS_COLUMNS)} from marts.dim_students", schema=STUDENTS_SCHEMA)


def watermark(conn) -> dt.date | None:
    """The first local day with no data: the day after the latest recorded viewing session. Labels and
    the scoring date follow the data, not the clock, so a replica that lags does not read as churn."""
    with conn.cursor() as cur:
        cur.execute("select max(started_local_date) from marts.fact_material_views")
        latest = cur.fetchone()[0]
    return latest + dt.timedelta(days=1) if latest else None


def stored_features(conn, where: str = "true", params=None) -> pl.DataFrame:
    from .features import FEATURES

    cols = ", ".join(["student_id::text", "as_of_date", *[f"{f}::float8" for f in FEATURES], "is_active"])
    schema = {"student_id": pl.Utf8, "as_of_date": pl.Date, **{f: pl.Float64 for f in FEATURES}, "is_active": pl.Boolean}
    return read_frame(conn, f"select {cols} from ml.student_features where {where}", params, schema=schema)
