"""The incremental marts after a delta at the platform: the same rows as a full rebuild, and a run
whose work follows the delta (the staging window function ranks only the keys with new rows).
The incremental windows start at a literal read when the model runs, so Postgres reads them through
the replicas' cursor indexes.

The delta is of the kinds the models are built for: new viewing sessions and XP awards, a session
whose active time grew, tasks ticked off, all within the days an incremental run recomputes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO_ROOT, Home, free_port, table_fingerprints

INCREMENTAL = ("fact_material_views", "fact_xp_ledger", "fact_study_sessions", "fact_daily_engagement")
DBT = Path(sys.executable).with_name("dbt")


def _dbt(home: Home, target: Path, *args: str) -> subprocess.CompletedProcess:
    env = home.env()
    for line in home.cli("db-url", "--env").stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.strip("'")
    return subprocess.run([str(DBT), *args, "--project-dir", "dbt", "--profiles-dir", "dbt", "--target-path", str(target)],
                          cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("incremental") / "home", free_port())
    home.cli("demo", "--students", "40", "--days", "30", "--vault-students", "1")
    home.cli("materialize", "--select", "group:platform or group:notes or group:calendar or group:references",
             timeout=900)
    _dbt(home, home.path / "dbt-target", "build")
    yield home
    home.cli("stop", check=False)


def _window_rows(plan: dict) -> list[int]:
    """Rows that went into every WindowAgg of an EXPLAIN ANALYZE plan (its child's actual rows)."""
    found = []
    if plan.get("Node Type") == "WindowAgg":
        found.append(sum(child["Actual Rows"] * child.get("Actual Loops", 1) for child in plan.get("Plans", [])))
    for child in plan.get("Plans", []):
        found += _window_rows(child)
    return found


def test_incremental_run_after_a_delta_equals_a_full_rebuild_and_ranks_only_new_keys(built, tmp_path):
    platform = built.db_url("--database", "platform")
    before = built.query("select count(*) from marts.fact_xp_ledger")[0][0]
    built.query(
        """
        insert into file_viewing_sessions (id, user_id, file_id, course_id, started_at, active_seconds,
            required_active_seconds, completion_score, is_complete)
        select gen_random_uuid(), user_id, file_id, course_id, now() - interval '1 day', active_seconds,
            required_active_seconds, completion_score, is_complete
        from file_viewing_sessions order by id limit 25;
        update file_viewing_sessions set active_seconds = active_seconds + 60
        where id = (select id from file_viewing_sessions order by started_at desc, id limit 1);
        insert into points_transactions (id, user_id, amount, action, reason, source_id, created_at)
        select gen_random_uuid(), user_id, amount, action, 'delta', 'delta:' || id::text, now()
        from points_transactions order by id limit 15;
        update user_tasks set completed = true, updated_at = now() - interval '1 day'
        where id in (select id from user_tasks where not completed order by id limit 10);
        """,
        url=platform,
    )
    built.cli("materialize", "--select", "group:platform", timeout=900)
    # The replicas the windows read have their key (hash: equality only) and cursor (b-tree) indexed.
    indexes = dict(built.query(
        "select i.relname, am.amname from pg_index x join pg_class i on i.oid = x.indexrelid "
        "join pg_class t on t.oid = x.indrelid join pg_am am on am.oid = i.relam "
        "where t.relname = 'platform_file_viewing_sessions' and t.relnamespace = 'raw'::regnamespace"))
    assert indexes == {"platform_file_viewing_sessions__id_hash_idx": "hash",
                       "platform_file_viewing_sessions__started_at_btree_idx": "btree"}, indexes
    # A recent lecture gone from a calendar: fact_study_sessions replaces its calendar part on every run
    # (and fact_daily_engagement's seven-day window covers its day).
    (gone,) = built.query(
        "select event_id from marts.fact_study_sessions where source = 'ical' "
        "and start_local_date >= (now() at time zone 'Europe/Amsterdam')::date - 6 order by event_id limit 1"
    )[0]
    built.query("delete from raw.ical_events where _natural_key = %s", (gone,))
    raw_points = built.query("select count(*) from raw.platform_points_transactions")[0][0]

    # The incremental ledger query as dbt compiles it now: its window function ranks the versions of
    # the new awards' keys (plus the hour of overlap), not the ledger's history.
    target = tmp_path / "target"
    _dbt(built, target, "compile", "--select", "fact_xp_ledger")
    compiled = next(target.glob("compiled/**/fact_xp_ledger.sql")).read_text()
    assert "in (select id from" in compiled
    plan = built.query("explain (analyze, format json) " + compiled)[0][0]
    ranked = _window_rows((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])
    assert ranked and max(ranked) < raw_points / 4, (ranked, raw_points)

    _dbt(built, target, "build", "--select", *INCREMENTAL)
    incremental = table_fingerprints(built, schemas=("marts",))
    assert built.query("select count(*) from marts.fact_xp_ledger")[0][0] == before + 15
    assert built.query("select count(*) from marts.fact_xp_ledger where reason = 'delta'")[0][0] == 15
    assert built.query("select count(*) from marts.fact_study_sessions where event_id = %s", (gone,))[0][0] == 0
    assert built.query("select count(*) from marts.fact_study_sessions where source = 'platform' "
                       "and start_at >= now() - interval '2 days'")[0][0] >= 25
    # The window's start is a literal in the SQL Postgres plans, not a subquery it cannot estimate.
    compiled = next(target.glob("compiled/**/fact_daily_engagement.sql")).read_text()
    assert "max(activity_date)" not in compiled and "::timestamp at time zone" in compiled
    assert built.query("select sum(sessions) from marts.fact_daily_engagement "
                       "where activity_date = (now() at time zone 'Europe/Amsterdam')::date - 1")[0][0] >= 25

    _dbt(built, target, "build", "--full-refresh", "--select", *INCREMENTAL)
    assert table_fingerprints(built, schemas=("marts",)) == incremental


def _dbt_result(home: Home, target: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return _dbt(home, target, *args)
    except subprocess.CalledProcessError as failed:
        return failed


def test_tests_of_an_incremental_fact_read_the_rows_since_they_last_passed(built, tmp_path):
    """dbt's tests on fact_xp_ledger check the awards from an hour before where the ledger ended when
    each test last passed (meta.tested_window, macros/tested_windows.sql), not the whole ledger. A
    failure records nothing, so the rows it failed on are tested again until fixed; a rewritten table
    file, --full-refresh and `test_whole_tables` test the whole table."""
    target = tmp_path / "target"
    _dbt(built, target, "build", "--select", "fact_xp_ledger")
    recorded = ("select validated_through, relation_filenode from meta.tested_through "
                "where test_id like 'test.%.not_null_fact_xp_ledger_student_id.%'")
    (through, filenode), = built.query(recorded)
    assert through == built.query("select max(awarded_at)::text from marts.fact_xp_ledger")[0][0]
    assert filenode == built.query("select pg_relation_filenode('marts.fact_xp_ledger')")[0][0]
    compiled = next(target.glob("compiled/**/not_null_fact_xp_ledger_student_id.sql")).read_text()
    assert f"where (awarded_at >= '{through}'::timestamptz - interval '1 hour')" in compiled

    def bad_award(awarded_at: str) -> None:
        built.query("insert into marts.fact_xp_ledger (xp_sk, points_transaction_id, student_id, xp, awarded_at) "
                    "values (md5(%s), gen_random_uuid(), null, 5, %s::timestamptz)", (awarded_at, awarded_at))

    # An award without a student before the window (where no run of the model writes): not read,
    # unless the whole table is asked for.
    bad_award("2001-01-01 00:00+00")
    assert _dbt_result(built, target, "test", "--select", "fact_xp_ledger").returncode == 0
    whole = _dbt_result(built, target, "test", "--select", "fact_xp_ledger", "--vars", "{test_whole_tables: true}")
    assert whole.returncode != 0 and "not_null_fact_xp_ledger_student_id" in whole.stdout
    built.query("delete from marts.fact_xp_ledger where awarded_at = '2001-01-01 00:00+00'")

    # One inside: the test fails, and records nothing, so it fails again after newer awards arrive.
    bad_award(f"{through}")
    for _ in range(2):
        failed = _dbt_result(built, target, "test", "--select", "fact_xp_ledger")
        assert failed.returncode != 0 and "not_null_fact_xp_ledger_student_id" in failed.stdout
        assert built.query(recorded)[0][0] == through
        built.query("insert into marts.fact_xp_ledger (xp_sk, points_transaction_id, student_id, xp, awarded_at) "
                    "select md5(random()::text), gen_random_uuid(), student_id, 1, awarded_at + interval '2 hours' "
                    "from marts.fact_xp_ledger where student_id is not null order by awarded_at desc limit 1")
    built.query("delete from marts.fact_xp_ledger where student_id is null")
    assert _dbt_result(built, target, "test", "--select", "fact_xp_ledger").returncode == 0
    newest = built.query("select max(awarded_at)::text from marts.fact_xp_ledger")[0][0]
    assert newest > through and built.query(recorded)[0][0] == newest

    # VACUUM FULL rewrites the table into a new file: the next tests read all of it.
    built.query("vacuum full marts.fact_xp_ledger")
    _dbt(built, target, "test", "--select", "fact_xp_ledger")
    compiled = next(target.glob("compiled/**/not_null_fact_xp_ledger_student_id.sql")).read_text()
    assert "dbt_subquery" not in compiled
    assert built.query(recorded)[0][1] == built.query("select pg_relation_filenode('marts.fact_xp_ledger')")[0][0]


def test_tests_of_a_staging_view_rank_only_the_keys_written_since_they_last_passed(built, tmp_path):
    """The staging views rank every version in their raw replica. Their row-by-row tests (not_null,
    accepted_values) rank only the keys with a row version written since the
    invocation in which they last passed started (meta.tested_versions, by transaction id): a row
    appended by hand is read at once and fails until it is fixed; rows tested before are not read
    again unless the whole table is asked for. Tests across rows (unique) read the whole view."""
    target = tmp_path / "target"
    view, raw = "stg_platform_points_transactions", "raw.platform_points_transactions"
    not_null = "not_null_stg_platform_points_transactions_user_id"
    _dbt(built, target, "build", "--select", view)
    marks = built.query("select test_id from meta.tested_versions where test_id like 'test.%stg_platform_points_transactions%'")
    # Three tests look at one row at a time (not_null twice, accepted_values). unique compares rows of
    # different raw ids (two spellings of one uuid): it keeps no mark and reads the whole view.
    names = sorted(t.split(".")[2] for (t,) in marks)
    assert len(names) == 3 and not any(n.startswith("unique_") for n in names), names
    assert not_null in names
    assert built.query("select count(*) from meta.versions_under_test")[0][0] == 0

    def compiled(test: str) -> str:
        return next(target.glob(f"compiled/**/{test}.sql")).read_text()

    def ranked(test: str) -> int:
        plan = built.query("explain (analyze, format json) " + compiled(test))[0][0]
        return max(_window_rows((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]))

    # Nothing written since the build's tests passed: the next run ranks no version at all, where the
    # whole view ranks every one.
    _dbt(built, target, "test", "--select", view)
    assert "age(xmin) between 0 and age(" in compiled(not_null)
    assert ranked(not_null) == 0 < built.query(f"select count(*) from {raw}")[0][0]
    assert "xmin" not in compiled("unique_stg_platform_points_transactions_source_id")
    assert "xmin" not in compiled(f"unique_{view}_points_transaction_id")

    # An award appended by hand, without a user: read at once, failing until fixed.
    built.query(f"insert into {raw} (id, user_id, amount, action, reason, source_id, created_at) "
                "values (gen_random_uuid(), null, 5, 'file_completed', 'by hand', 'by-hand:1', now())")
    for _ in range(2):
        failed = _dbt_result(built, target, "test", "--select", view)
        assert failed.returncode != 0 and not_null in failed.stdout
        assert ranked(not_null) == 1
    (user,) = built.query(f"select user_id from {raw} where user_id is not null limit 1")[0]
    built.query(f"update {raw} set user_id = %s where user_id is null", (user,))
    assert _dbt_result(built, target, "test", "--select", view).returncode == 0
    # The passing run read the fixed row; the run after it reads nothing again.
    assert ranked(not_null) == 1
    _dbt(built, target, "test", "--select", view)
    assert ranked(not_null) == 0

    # The whole table on request, and for a view whose definition changed.
    _dbt(built, target, "test", "--select", view, "--vars", "{test_whole_tables: true}")
    assert "xmin" not in compiled(not_null)
    built.query("update meta.tested_versions set view_definition = 'another view' "
                f"where test_id like 'test.%.{not_null}.%'")
    _dbt(built, target, "test", "--select", view)
    assert "xmin" not in compiled(not_null)
    _dbt(built, target, "test", "--select", view)
    assert "xmin" in compiled(not_null)
    built.query(f"delete from {raw} where reason = 'by hand'")
