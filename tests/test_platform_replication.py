"""Platform replication (dlt sql_database -> raw.platform_*), end to end through the CLI and Dagster."""

from __future__ import annotations

import json

import pytest
import yaml
from dagster._serdes import deserialize_value

from studentops_assets.platform.tables import PLATFORM_TABLES

from .conftest import Home, free_port, table_fingerprints

CONTRACT = yaml.safe_load(
    open(__import__("studentops_assets.platform.contract", fromlist=["x"]).CONTRACT_FILE, encoding="utf-8")
)


# Text that trips csv round trips: the empty string (not NULL), the words NULL and \N, the csv
# delimiter, quotes, line breaks, tabs, a trailing backslash, non-ASCII.
AWKWARD_NOTES = ["", " ", "a,b", "line1\nline2\r\nline3", 'say "hi"', "tab\there", "NULL", "\\N",
                 "Zoë — 学习 🎓", "trailing\\"]


@pytest.fixture(scope="module")
def platform_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("platform-home"), free_port())
    home.cli("demo", "--students", "40", "--days", "30", "--seed", "11", "--vault-students", "1")
    home.query(
        "insert into user_notes (id, user_id, course_id, material_id, content, created_at, updated_at) "
        "select gen_random_uuid(), n.user_id, n.course_id, null, v, n.created_at, n.updated_at "
        "from (select * from user_notes order by id limit 1) n, unnest(%s::text[]) v",
        (AWKWARD_NOTES,),
        url=home.db_url("--database", "platform"),
    )
    result = home.cli("materialize", "--select", "group:platform")
    assert "14/14 assets materialised" in result.stdout
    yield home
    home.stop()


def table_digest(home: Home, url: str, table: str, source: bool) -> tuple[int, str]:
    columns = list(CONTRACT[table])
    relation = f"public.{table}" if source else f"raw.platform_{table}"
    projection = ", ".join(f'"{c}"::text' for c in columns)
    (count, digest), = home.query(
        f"select count(*), md5(coalesce(string_agg(r::text, E'\\n' order by r::text), '')) "
        f"from (select row({projection}) as r from {relation}) s",
        url=url,
    )
    return count, digest


def test_every_table_is_an_exact_copy(platform_home):
    platform_url = platform_home.db_url("--database", "platform")
    warehouse_url = platform_home.db_url()
    for table in PLATFORM_TABLES:
        source = table_digest(platform_home, platform_url, table.name, source=True)
        replica = table_digest(platform_home, warehouse_url, table.name, source=False)
        assert source[0] > 0, table.name
        assert replica == source, table.name
    # The planted truth stays in the platform database; it is never a model input.
    assert platform_home.query("select to_regclass('raw.platform_student_disengagement')") == [(None,)]


def latest_materialization(home: Home, raw_table: str) -> dict:
    """The metadata of the newest materialisation of raw/<raw_table>, from Dagster's event log."""
    (event,), = home.query(
        "select event from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' and asset_key = %s "
        "order by id desc limit 1",
        (json.dumps(["raw", raw_table]),),
        url=home.db_url("--database", "dagster"),
    )
    metadata = deserialize_value(event).dagster_event.event_specific_data.materialization.metadata
    return {name: value.value for name, value in metadata.items()}


def test_awkward_text_arrives_unchanged(platform_home):
    replicated = platform_home.query(
        "select content from raw.platform_user_notes where content = any(%s) order by content", (AWKWARD_NOTES,)
    )
    assert sorted(c for (c,) in replicated) == sorted(AWKWARD_NOTES)
    # The empty string stays an empty string: csv COPY would otherwise read it as NULL.
    assert platform_home.query("select count(*) from raw.platform_user_notes where content is null") == [(0,)]


def test_first_sync_reports_what_it_read(platform_home):
    platform_url = platform_home.db_url("--database", "platform")
    for table in PLATFORM_TABLES:
        metadata = latest_materialization(platform_home, table.raw_table)
        (source_rows,), = platform_home.query(f"select count(*) from public.{table.name}", url=platform_url)
        assert metadata["first_sync"] is True, table.name
        assert metadata["rows_loaded_this_run"] == source_rows == metadata["dagster/row_count"], table.name
        assert metadata["run_rows_per_second"] > 0
        assert set(k for k in metadata if k.startswith("run_") and k.endswith("_seconds")) == {
            "run_seconds", "run_extract_seconds", "run_normalize_seconds", "run_load_seconds"}


def test_changes_at_the_source_replicate_incrementally(platform_home):
    platform_url = platform_home.db_url("--database", "platform")
    (user_id,), = platform_home.query("select id from users where role = 'STUDENT' order by id limit 1", url=platform_url)
    (task_id,), = platform_home.query("select id from user_tasks order by id limit 1", url=platform_url)
    platform_home.query(
        "update users set name = 'Renamed Student', updated_at = now() where id = %s;"
        "delete from user_tasks where id = %s;"
        "insert into points_transactions (id, user_id, amount, action, reason, source_id, created_at) "
        "values (gen_random_uuid(), %s, 7, 'file_completed', 'test award', 'test:award:1', now());"
        "update users set total_points = total_points + 7, updated_at = now() where id = %s",
        (user_id, task_id, user_id, user_id),
        url=platform_url,
    )
    result = platform_home.cli("materialize", "--select", "group:platform")
    assert "14/14 assets materialised" in result.stdout
    assert platform_home.query("select name from raw.platform_users where id = %s", (str(user_id),)) == [("Renamed Student",)]
    assert platform_home.query("select count(*) from raw.platform_user_tasks where id = %s", (str(task_id),)) == [(0,)]
    assert platform_home.query(
        "select amount, action from raw.platform_points_transactions where source_id = 'test:award:1'"
    ) == [(7, "file_completed")]
    # Only what changed (and the lag window behind each cursor) was read, not the tables again.
    users = latest_materialization(platform_home, "platform_users")
    assert users["first_sync"] is False
    (user_count,), = platform_home.query("select count(*) from raw.platform_users")
    assert 1 <= users["rows_loaded_this_run"] < user_count / 4
    ledger = latest_materialization(platform_home, "platform_points_transactions")
    (ledger_count,), = platform_home.query("select count(*) from raw.platform_points_transactions")
    assert 1 <= ledger["rows_loaded_this_run"] < ledger_count / 4
    assert latest_materialization(platform_home, "platform_user_tasks")["rows_deleted_this_run"] == 1
    # Row counts stay exact after an incremental run (for delete-detected tables they come from the
    # deletion check's replica summary, not a count of their own).
    for table in PLATFORM_TABLES:
        (replica_rows,), = platform_home.query(f"select count(*) from raw.{table.raw_table}")
        assert latest_materialization(platform_home, table.raw_table)["dagster/row_count"] == replica_rows, table.name
    # Still an exact copy of every table after the incremental run.
    warehouse_url = platform_home.db_url()
    for table in PLATFORM_TABLES:
        assert table_digest(platform_home, warehouse_url, table.name, False) == table_digest(
            platform_home, platform_url, table.name, True
        ), table.name


def test_a_failed_load_loses_and_duplicates_nothing_on_rerun(platform_home):
    platform_url = platform_home.db_url("--database", "platform")
    (user_id,), = platform_home.query("select id from users where role = 'STUDENT' order by id desc limit 1", url=platform_url)
    platform_home.query(
        "insert into points_transactions (id, user_id, amount, action, reason, source_id, created_at) "
        "values (gen_random_uuid(), %s, 3, 'file_completed', 'during outage', 'test:outage:1', now());"
        "update users set name = 'Renamed During Outage', updated_at = now() where id = %s",
        (user_id, user_id),
        url=platform_url,
    )
    # The warehouse refuses the ledger's rows: the load fails after extraction has read the changes.
    platform_home.query(
        "create function raw.refuse() returns trigger language plpgsql as $$ "
        "begin raise exception 'warehouse refuses the ledger'; end $$;"
        "create trigger refuse before insert on raw.platform_points_transactions "
        "for each statement execute function raw.refuse()"
    )
    try:
        failed = platform_home.cli("materialize", "--select", "group:platform", check=False)
    finally:
        platform_home.query("drop trigger refuse on raw.platform_points_transactions; drop function raw.refuse()")
    assert failed.returncode != 0
    assert platform_home.query("select count(*) from raw.platform_points_transactions where source_id = 'test:outage:1'") == [(0,)]

    # The cursors did not move past what never arrived: the rerun brings it, once.
    platform_home.cli("materialize", "--select", "group:platform")
    assert platform_home.query("select count(*) from raw.platform_points_transactions where source_id = 'test:outage:1'") == [(1,)]
    assert platform_home.query("select name from raw.platform_users where id = %s", (str(user_id),)) == [("Renamed During Outage",)]
    warehouse_url = platform_home.db_url()
    for table in PLATFORM_TABLES:
        assert table_digest(platform_home, warehouse_url, table.name, False) == table_digest(
            platform_home, platform_url, table.name, True
        ), table.name


def test_rerun_changes_nothing(platform_home):
    before = table_fingerprints(platform_home, schemas=("raw",))
    platform_home.cli("materialize", "--select", "group:platform")
    after = table_fingerprints(platform_home, schemas=("raw",))
    assert after == before


def test_schema_change_is_reported_before_dbt(platform_home):
    platform_url = platform_home.db_url("--database", "platform")
    platform_home.query("alter table courses add column credits integer", url=platform_url)
    result = platform_home.cli("materialize", "--select", "key:raw/platform_courses")
    assert "warn check raw/platform_courses:source_contract" in result.stdout

    platform_home.query("alter table lecturers drop column name", url=platform_url)
    result = platform_home.cli("materialize", "--select", "key:raw/platform_lecturers", check=False)
    assert result.returncode != 0
    assert "FAILED check raw/platform_lecturers:source_contract" in result.stdout
