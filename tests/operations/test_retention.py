"""Bounded instance storage: old runs and their events are purged, the latest results are kept.

Runs a real Dagster instance stored in the embedded Postgres, materialises small assets (one plain
with a check, one daily-partitioned) several times, ages some runs by moving their creation time back,
and purges.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import psycopg2
import pytest

from resources.postgres_server import ensure_database, ready_urls
from studentops_assets.core.settings import load_config
from studentops_assets.core.urls import sqlalchemy_psycopg2_url
from studentops_assets.operations.retention import purge_instance_history

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-04")


@dg.asset
def plain_table() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"n": 1})


@dg.asset_check(asset=plain_table, description="always passes")
def plain_table_ok() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset(partitions_def=PARTITIONS)
def daily_table(context) -> None:
    context.log.info(f"partition {context.partition_key}")


@pytest.fixture(scope="module")
def dagster_db(new_home):
    home, _ = new_home()
    urls = ready_urls(load_config(home.path))
    ensure_database(urls, urls.dagster)
    return urls.dagster


@pytest.fixture
def instance(dagster_db):
    conn = psycopg2.connect(dagster_db)
    conn.autocommit = True
    with conn.cursor() as cur:
        # A clean instance per test: drop Dagster's tables (it recreates them).
        cur.execute("drop schema public cascade; create schema public")
    conn.close()
    overrides = {"storage": {"postgres": {"postgres_url": sqlalchemy_psycopg2_url(dagster_db)}}}
    with dg.instance_for_test(overrides=overrides) as inst:
        yield inst


def age(dagster_db: str, run_ids: list[str], days: int) -> None:
    conn = psycopg2.connect(dagster_db)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "update runs set create_timestamp = create_timestamp - make_interval(days => %s) "
            "where run_id = any(%s)", (days, run_ids))
        assert cur.rowcount == len(run_ids)
    conn.close()


def event_rows(dagster_db: str, run_ids: list[str]) -> int:
    conn = psycopg2.connect(dagster_db)
    with conn.cursor() as cur:
        cur.execute("select count(*) from event_logs where run_id = any(%s)", (run_ids,))
        (count,) = cur.fetchone()
    conn.close()
    return count


def run(instance, assets, **kwargs) -> str:
    result = dg.materialize(assets, instance=instance, **kwargs)
    assert result.success
    return result.run_id


def test_old_runs_are_purged_and_latest_results_kept(instance, dagster_db):
    old_plain = [run(instance, [plain_table, plain_table_ok]) for _ in range(3)]
    old_parts = [run(instance, [daily_table], partition_key=p) for p in PARTITIONS.get_partition_keys()]
    # A newer run of one partition makes the old run of that partition purgeable.
    newer_part = run(instance, [daily_table], partition_key="2026-01-02")
    recent = run(instance, [plain_table])  # young: never purged, whatever it holds
    age(dagster_db, old_plain + old_parts + [newer_part], days=100)
    assert event_rows(dagster_db, old_plain[:2]) > 0

    result = purge_instance_history(
        instance,
        older_than=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30),
        asset_keys=[plain_table.key, daily_table.key],
        check_keys=[plain_table_ok.check_key],
    )

    # The last old run of plain_table holds the latest check result; the older two hold nothing.
    # Partition 2026-01-02's first run was superseded; every other partition's only run is kept.
    superseded = old_parts[1]
    assert set(result.deleted) == {old_plain[0], old_plain[1], superseded}
    assert set(result.kept_as_latest) == {old_plain[2], old_parts[0], old_parts[2], newer_part}
    assert result.examined == 7
    assert instance.get_run_by_id(recent) is not None
    for run_id in result.deleted:
        assert instance.get_run_by_id(run_id) is None
    assert event_rows(dagster_db, list(result.deleted)) == 0

    # What the UI and automation read is unchanged: every partition is still materialised, the
    # latest materialisation is the recent run's, the check's latest result is still there.
    assert instance.get_materialized_partitions(daily_table.key) == set(PARTITIONS.get_partition_keys())
    assert instance.get_latest_materialization_event(plain_table.key).run_id == recent
    latest_check = instance.event_log_storage.get_latest_asset_check_execution_by_key([plain_table_ok.check_key])
    assert latest_check[plain_table_ok.check_key].run_id == old_plain[2]

    # A second purge finds nothing more to delete (idempotent).
    again = purge_instance_history(
        instance, older_than=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30),
        asset_keys=[plain_table.key, daily_table.key], check_keys=[plain_table_ok.check_key])
    assert again.deleted == ()


def test_unfinished_runs_are_never_purged(instance, dagster_db):
    job = dg.Definitions(assets=[plain_table]).get_implicit_global_asset_job_def()
    queued = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    age(dagster_db, [queued.run_id], days=365)
    result = purge_instance_history(instance, older_than=dt.datetime.now(dt.timezone.utc))
    assert queued.run_id not in result.deleted
    assert instance.get_run_by_id(queued.run_id) is not None


def test_retention_job_and_schedule_are_in_the_code_location():
    from studentops_assets.definitions import defs

    repo = defs.get_repository_def()
    schedule = repo.get_schedule_def("instance_retention_schedule")
    assert schedule.job_name == "instance_retention"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert repo.get_job("instance_retention").description


def test_keep_days_is_validated(tmp_path):
    from studentops_assets.core.errors import StudentOpsError

    (tmp_path / "studentops.yaml").write_text("retention: {keep_days: 0}\n")
    with pytest.raises(StudentOpsError, match="retention.keep_days"):
        load_config(tmp_path)
    (tmp_path / "studentops.yaml").write_text("retention: {keep_days: 7}\n")
    assert load_config(tmp_path).retention_keep_days == 7
