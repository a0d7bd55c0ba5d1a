"""`ml/student_features` recomputes only the weeks whose inputs changed, and its rows stay what a
from-scratch computation gives.

A small demo home, materialised up to the features through `studentops materialize` (real Dagster
runs on the embedded server). Each test changes the warehouse in SQL, reruns the features asset and
checks which weeks were recomputed (their rows' computed_at, the run's metadata) and every stored row
against the features computed afresh from the warehouse. Each test ends with a run over every week,
so the next one starts from fingerprints that match the warehouse, in any order.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import psycopg2
import pytest

from studentops_assets.ml import warehouse_reads
from studentops_assets.ml.features import LOOKBACK_DAYS, features_for

from ..conftest import HASHING_EMBEDDER, Home, free_port

DEMO_ARGS = ("demo", "--students", "25", "--days", "60", "--seed", "5", "--vault-students", "0",
             "--end-date", "2026-11-15")
FEATURES = "key:ml/student_features"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("features-home"), free_port(), env_defaults=HASHING_EMBEDDER)
    home.cli(*DEMO_ARGS)
    # The features and what they read (platform replicas, staging, the three marts); nothing downstream.
    home.cli("materialize", "--select", f"+{FEATURES}", timeout=1800)
    yield home
    home.stop()


def rerun(home: Home) -> dict:
    """Materialise every week of the features (as `studentops materialize` does); the run's metadata."""
    home.cli("materialize", "--select", FEATURES, timeout=900)
    (event,), = home.query(
        "select event from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' "
        "and asset_key = '[\"ml\", \"student_features\"]' order by id desc limit 1",
        url=home.db_url("--database", "dagster"))
    entries = json.loads(event)["dagster_event"]["event_specific_data"]["materialization"]["metadata_entries"]
    return {e["label"]: e["entry_data"].get("value", e["entry_data"].get("text")) for e in entries}


def computed_at(home: Home) -> dict[dt.date, dt.datetime]:
    """When each week was last computed (every week of the run, rows or none), checked against its rows:
    a week's rows and its fingerprint are written in one transaction, so they share one now()."""
    weeks = dict(home.query("select as_of_date, computed_at from ml.student_features_inputs"))
    rows = home.query("select as_of_date, min(computed_at), max(computed_at) from ml.student_features group by 1")
    assert rows and all(first == last == weeks[d] for d, first, last in rows)
    return weeks


def weeks(home: Home) -> list[dt.date]:
    return sorted(computed_at(home))


def stored_and_fresh(home: Home) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The stored rows, and the rows computed now from the whole warehouse for every week."""
    conn = psycopg2.connect(home.db_url())
    try:
        dates = weeks(home)
        since = dates[0] - dt.timedelta(days=LOOKBACK_DAYS)
        fresh = features_for(warehouse_reads.daily_engagement(conn, since, dates[-1]),
                             warehouse_reads.course_views(conn, since, dates[-1]),
                             warehouse_reads.students(conn), dates)
        stored = warehouse_reads.stored_features(conn)
    finally:
        conn.close()
    order = ["as_of_date", "student_id"]
    return stored.sort(order), fresh.select(stored.columns).sort(order)


def assert_rows_are_fresh(home: Home) -> pl.DataFrame:
    stored, fresh = stored_and_fresh(home)
    assert stored.height > 500
    assert stored.equals(fresh)
    return stored


def assert_only_the_weeks_that_see(home: Home, day: dt.date, before: dict, meta: dict) -> None:
    """The rerun recomputed exactly the weeks whose lookback window holds `day`, and every row is fresh."""
    expected = {d for d in before if day < d <= day + dt.timedelta(days=LOOKBACK_DAYS)}
    after = computed_at(home)
    assert {d for d in before if after[d] != before[d]} == expected and meta["weeks_recomputed"] == len(expected) > 0
    assert_rows_are_fresh(home)


def test_a_rerun_on_unchanged_inputs_recomputes_no_week(home):
    before, rows = computed_at(home), assert_rows_are_fresh(home)
    # A column no feature reads changes: the students' points (a platform delta updates users).
    home.query("update marts.dim_students set total_points = total_points + 7")
    meta = rerun(home)
    assert meta["weeks_recomputed"] == 0 and meta["weeks_unchanged"] == len(before) > 40
    assert meta["rows_in_run"] == 0
    assert computed_at(home) == before
    assert assert_rows_are_fresh(home).equals(rows)


def test_one_changed_day_recomputes_exactly_the_weeks_whose_window_holds_it(home):
    before, old_rows = computed_at(home), assert_rows_are_fresh(home)
    (day, student), = home.query(
        "select activity_date, student_id from marts.fact_daily_engagement where sessions > 0 "
        "order by activity_date, student_id offset 200 limit 1")
    home.query("update marts.fact_daily_engagement set sessions = sessions + 3, active_minutes = active_minutes + 1.5 "
               "where activity_date = %s and student_id = %s", (day, student))
    meta = rerun(home)
    expected = {d for d in before if day < d <= day + dt.timedelta(days=LOOKBACK_DAYS)}
    after = computed_at(home)
    moved = {d for d in before if after[d] != before[d]}
    assert moved == expected and 4 < len(expected) < len(before)
    assert meta["weeks_recomputed"] == len(expected) and meta["weeks_unchanged"] == len(before) - len(expected)
    new_rows = assert_rows_are_fresh(home)
    # The change reached the rows of the student it touched (so the recomputation was needed) and
    # no other week's rows.
    changed = new_rows.join(old_rows, on=["as_of_date", "student_id"], suffix="_old").filter(
        pl.col("active_minutes_4w") != pl.col("active_minutes_4w_old"))
    assert set(changed["student_id"]) == {str(student)}
    assert set(changed["as_of_date"]) <= expected and min(expected) in set(changed["as_of_date"])


def test_a_course_view_counts_only_if_the_features_read_it(home):
    before = computed_at(home)
    (day,), = home.query(
        "select started_local_date from marts.fact_material_views where course_code is not null "
        "order by started_local_date, session_id offset 100 limit 1")
    columns = ", ".join(c for (c,) in home.query(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'fact_material_views' and column_name not in ('session_sk', 'session_id', 'course_code') "
        "order by ordinal_position"))
    # A viewing of a file in no course: the features read only views with a course, so no week moves.
    (again,), = home.query(
        f"insert into marts.fact_material_views (session_sk, session_id, course_code, {columns}) "
        f"select md5(random()::text), gen_random_uuid(), null, {columns} from marts.fact_material_views "
        "where course_code is not null and started_local_date = %s order by session_id limit 1 returning session_id",
        (day,))
    meta = rerun(home)
    assert meta["weeks_recomputed"] == 0 and computed_at(home) == before
    # The same viewing in a course the student did not open that day: exactly that day's weeks move.
    home.query("update marts.fact_material_views set course_code = 'ZZ999' where session_id = %s", (again,))
    meta = rerun(home)
    assert_only_the_weeks_that_see(home, day, before, meta)


def test_two_students_swapping_a_value_on_a_day_is_a_change(home):
    # The per-day fingerprint is a sum over rows: a linear row hash would not see this.
    before = computed_at(home)
    (day, first, second), = home.query(
        "select a.activity_date, a.student_id::text, b.student_id::text from marts.fact_daily_engagement as a "
        "join marts.fact_daily_engagement as b on b.activity_date = a.activity_date and b.student_id > a.student_id "
        "and b.xp <> a.xp where a.xp > 0 order by 1, 2, 3 offset 10 limit 1")
    home.query(
        "update marts.fact_daily_engagement as f set xp = o.xp from marts.fact_daily_engagement as o "
        "where f.activity_date = %(day)s and o.activity_date = %(day)s and f.student_id::text in (%(a)s, %(b)s) "
        "and o.student_id::text in (%(a)s, %(b)s) and f.student_id <> o.student_id",
        {"day": day, "a": first, "b": second})
    meta = rerun(home)
    assert_only_the_weeks_that_see(home, day, before, meta)


def test_a_change_to_the_students_recomputes_every_week(home):
    before = computed_at(home)
    home.query("update marts.dim_students set joined_local_date = joined_local_date - 1 "
               "where student_id = (select min(student_id::text)::uuid from marts.dim_students)")
    meta = rerun(home)
    after = computed_at(home)
    assert all(after[d] != before[d] for d in before)
    assert meta["weeks_recomputed"] == len(before) and meta["weeks_unchanged"] == 0
    assert assert_rows_are_fresh(home).height == meta["rows_in_run"]


def test_a_deleted_fingerprint_forces_its_week(home):
    before = computed_at(home)
    week = sorted(before)[-3]
    home.query("delete from ml.student_features_inputs where as_of_date = %s", (week,))
    meta = rerun(home)
    after = computed_at(home)
    assert {d for d in before if after[d] != before[d]} == {week} and meta["weeks_recomputed"] == 1
    assert_rows_are_fresh(home)
