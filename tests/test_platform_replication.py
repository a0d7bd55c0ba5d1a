"""Platform replication (dlt sql_database -> raw.platform_*), end to end through the CLI and Dagster."""

from __future__ import annotations

import pytest
import yaml

from studentops_assets.platform.tables import PLATFORM_TABLES

from .conftest import Home, free_port, table_fingerprints

CONTRACT = yaml.safe_load(
    open(__import__("studentops_assets.platform.contract", fromlist=["x"]).CONTRACT_FILE, encoding="utf-8")
)


@pytest.fixture(scope="module")
def platform_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("platform-home"), free_port())
    home.cli("demo", "--students", "40", "--days", "30", "--seed", "11", "--vault-students", "1")
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
    # Still an exact copy of every table after the incremental run.
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
