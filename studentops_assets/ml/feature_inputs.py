"""Which weeks of `ml/student_features` need recomputing: a fingerprint of each as-of date's inputs.

A week's rows are a function of three things only (features.py): the daily engagement and the course
views in `[as_of - LOOKBACK_DAYS, as_of)`, the students table, and the feature code. Each is
fingerprinted here, so a rerun recomputes exactly the weeks whose inputs moved, and a delta of new
events recomputes the weeks whose window holds those events rather than all of them.

The warehouse does the hashing (one scan per input, grouped by day): shipping the rows to Python to
hash them would cost as much as reading them for the features. Python then combines the days of each
as-of date's window, which is a few thousand tuples.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path

import polars as pl

from . import features, warehouse_reads
from .features import FEATURES, LOOKBACK_DAYS

DDL = """
create table if not exists ml.student_features_inputs (
    as_of_date  date primary key,
    fingerprint text        not null,
    computed_at timestamptz not null default now()
);
comment on table ml.student_features_inputs is
    'Fingerprint of the inputs (engagement and course-view days in the lookback window, the students, the '
    'feature code) each as-of date of ml.student_features was computed from; a week whose fingerprint is '
    'unchanged is not recomputed. Delete a row to force its week to be recomputed.';
"""


@functools.cache
def code_version() -> str:
    """The feature code's identity: a change to the features, their windows or the reads' SQL changes
    every week's rows, so it recomputes every week. Polars is the engine the features run on; an upgrade
    could change a rounding, so its version counts too."""
    digest = hashlib.sha256()
    for module in (features, warehouse_reads):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(repr((FEATURES, LOOKBACK_DAYS, pl.__version__)).encode())
    return digest.hexdigest()


def _row_hash(columns: dict[str, str]) -> str:
    """A 64-bit hash of a row of the stored `columns` (the reads' casts are functions of them, so equal
    stored values give equal read values; hashing before the casts skips the uuid-to-text conversion,
    which was most of the cost). hash_record_extended combines the columns' own hashes linearly
    (h * 31 + next), so summing it over rows could not tell two students swapping a value on a day;
    hashing its result again makes each row's hash non-linear before the sum."""
    return f"hashtextextended(hash_record_extended(row({', '.join(columns)}), 0)::text, 0)"


# Per day, the row count and the sum of the rows' hashes. A sum does not depend on the row order and
# sees duplicate rows (an XOR cancels pairs); `sum(bigint)` is exact (numeric, no overflow).
_DAILY_DAYS = f"""
select activity_date, count(*), sum({_row_hash(warehouse_reads.DAILY_COLUMNS)})::text
from marts.fact_daily_engagement
where activity_date >= %s and activity_date < %s
group by activity_date
"""
# The views read is `select distinct`, but all rows are hashed: hashing the distinct rows took 20-30 s
# on a 100,000-student warehouse (12M views) against 4 s for all rows. A change to the distinct rows is
# a change to all rows, so none is missed; only a repeat viewing of a course already viewed that day
# recomputes that day's weeks without need, and such a viewing is a session, which changes the day's
# engagement row (so its weeks) anyway.
_VIEWS_DAYS = f"""
select started_local_date, count(*), sum({_row_hash(warehouse_reads.VIEWS_COLUMNS)})::text
from marts.fact_material_views
where started_local_date >= %s and started_local_date < %s and {warehouse_reads.VIEWS_FILTER}
group by started_local_date
"""
_STUDENTS = f"""
select count(*), coalesce(sum({_row_hash(warehouse_reads.STUDENTS_COLUMNS)}), 0)::text
from marts.dim_students
"""


def fingerprints(conn, as_of_dates: list[dt.date]) -> dict[dt.date, str]:
    """The current input fingerprint of each as-of date (sha256 hex), from one pass over each input."""
    if not as_of_dates:
        return {}
    since = min(as_of_dates) - dt.timedelta(days=LOOKBACK_DAYS)
    before = max(as_of_dates)
    with conn.cursor() as cur:
        cur.execute(_DAILY_DAYS, (since, before))
        daily = {day: f"{n}:{total}" for day, n, total in cur.fetchall()}
        cur.execute(_VIEWS_DAYS, (since, before))
        views = {day: f"{n}:{total}" for day, n, total in cur.fetchall()}
        cur.execute(_STUDENTS)
        people = "{}:{}".format(*cur.fetchone())
    out = {}
    for as_of in as_of_dates:
        digest = hashlib.sha256(f"{code_version()}|students {people}".encode())
        # Every day of the window in order; a day with no rows adds nothing, and a day that gains or
        # loses all its rows changes the text because the day itself is written.
        for offset in range(LOOKBACK_DAYS, 0, -1):
            day = as_of - dt.timedelta(days=offset)
            if day in daily:
                digest.update(f"|d {day} {daily[day]}".encode())
            if day in views:
                digest.update(f"|v {day} {views[day]}".encode())
        out[as_of] = digest.hexdigest()
    return out


def stored(conn, as_of_dates: list[dt.date]) -> dict[dt.date, str]:
    """The fingerprints the stored rows of these as-of dates were computed from (none for a week never
    computed, or computed before this table existed)."""
    with conn.cursor() as cur:
        cur.execute("select as_of_date, fingerprint from ml.student_features_inputs where as_of_date = any(%s)",
                    (as_of_dates,))
        return dict(cur.fetchall())


def record(conn, current: dict[dt.date, str]) -> None:
    """Store the fingerprints of the weeks just recomputed, in the caller's transaction (the one that
    writes their rows, so rows and fingerprint cannot disagree)."""
    if not current:
        return
    with conn.cursor() as cur:
        cur.execute(
            "insert into ml.student_features_inputs (as_of_date, fingerprint, computed_at) "
            "select as_of_date, fingerprint, now() from unnest(%s::date[], %s::text[]) as t(as_of_date, fingerprint) "
            "on conflict (as_of_date) do update set fingerprint = excluded.fingerprint, computed_at = excluded.computed_at",
            (list(current), list(current.values())),
        )
