"""What the dbt steps put on each model's asset page, now that they read it without dagster-dbt's
per-model queries (studentops_assets/warehouse/metadata.py): tables carry their exact row count (from
the adapter response of the statement that built them, or a count after an incremental delta), views
none; every model carries its columns with types and the yml descriptions."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from studentops_assets.warehouse.metadata import row_count_from_response
from studentops_assets.warehouse.project import DBT_PROJECT_DIR

from .conftest import Home, free_port

# A delete+insert incremental model whose rerun inserts only the last hour's rows.
INCREMENTAL = ["marts", "fact_xp_ledger"]
SNAPSHOT = ["snapshots", "assessments_snapshot"]


def test_row_count_is_taken_from_statements_that_built_the_whole_table():
    assert row_count_from_response("table", {"code": "SELECT", "rows_affected": 72000.0}) == 72000
    assert row_count_from_response("table", {"code": "INSERT", "rows_affected": 12}) == 12
    # First (or full-refresh) build of an incremental model or snapshot: create table as select.
    assert row_count_from_response("incremental", {"code": "SELECT", "rows_affected": 5}) == 5
    assert row_count_from_response("snapshot", {"code": "SELECT", "rows_affected": 3}) == 3
    # An incremental run reports the delta it inserted or merged, not the table: no count from it.
    assert row_count_from_response("incremental", {"code": "INSERT", "rows_affected": 4}) is None
    assert row_count_from_response("snapshot", {"code": "MERGE", "rows_affected": 1}) is None
    assert row_count_from_response("view", {"code": "CREATE VIEW", "rows_affected": -1}) is None
    assert row_count_from_response("table", {"code": "SELECT"}) is None


def _models() -> list[dict]:
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
    return [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "snapshot")]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("dbt-overhead") / "home", free_port())
    home.cli("demo", "--students", "30", "--days", "40", "--vault-students", "1")
    home.cli("materialize", "--select", "+(group:warehouse)", timeout=1500)
    yield home
    home.cli("stop", check=False)


def _latest_metadata(home: Home, monkeypatch, keys) -> dict[tuple, dict]:
    from studentops_assets.core.urls import sqlalchemy_psycopg2_url

    monkeypatch.setenv("DAGSTER_HOME", str(home.path / "dagster"))
    monkeypatch.setenv("STUDENTOPS_DAGSTER_DATABASE_URL",
                       sqlalchemy_psycopg2_url(home.db_url("--database", "dagster")))
    out = {}
    with dg.DagsterInstance.get() as instance:
        for key in keys:
            event = instance.get_latest_materialization_event(dg.AssetKey(list(key)))
            assert event is not None, key
            out[tuple(key)] = event.asset_materialization.metadata
    return out


def _catalog_columns(home: Home, schema: str, name: str) -> list[tuple[str, str]]:
    return home.query(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position", (schema, name))


def test_tables_carry_their_exact_row_count_views_none_and_all_their_columns(built, monkeypatch):
    models = _models()
    metadata = _latest_metadata(built, monkeypatch, [(n["schema"], n["name"]) for n in models])
    for node in models:
        schema, name = node["schema"], node["name"]
        meta = metadata[(schema, name)]
        if node["config"]["materialized"] == "view":
            assert "dagster/row_count" not in meta, name
        else:
            (count,), = built.query(f'select count(*) from "{schema}"."{name}"')
            assert meta["dagster/row_count"].value == count, name
        columns = meta["dagster/column_schema"].schema.columns
        catalog = _catalog_columns(built, schema, name)
        assert [c.name for c in columns] == [c for c, _ in catalog], name
        # Types as dbt names them: numeric without a precision stays "numeric", uuid stays "uuid".
        assert [c.type.split("(")[0] for c in columns] == [t for _, t in catalog], name
        documented = {c: d for c, d in (node.get("columns") or {}).items() if d.get("description")}
        described = {c.name: c.description for c in columns if c.description}
        for column, props in documented.items():
            assert described.get(column) == props["description"], (name, column)
    # The demo fills the facts: a count of 0 everywhere would pass the equality above too.
    assert metadata[("marts", "fact_xp_ledger")]["dagster/row_count"].value > 0
    assert metadata[("marts", "dim_students")]["dagster/row_count"].value == 30


def test_an_incremental_rerun_reports_the_table_not_the_delta(built, monkeypatch):
    (total,), = built.query('select count(*) from marts.fact_xp_ledger')
    (recent,), = built.query(
        "select count(*) from marts.fact_xp_ledger where awarded_at >= (select max(awarded_at) - interval '1 hour' "
        "from marts.fact_xp_ledger)")
    assert recent < total  # the rerun's delete+insert touches the last hour only
    built.cli("materialize", "--select", 'key:"marts/fact_xp_ledger" or key:"snapshots/assessments_snapshot"',
              timeout=900)
    metadata = _latest_metadata(built, monkeypatch, [INCREMENTAL, SNAPSHOT])
    assert metadata[tuple(INCREMENTAL)]["dagster/row_count"].value == total
    (snapshot_rows,), = built.query("select count(*) from snapshots.assessments_snapshot")
    assert metadata[tuple(SNAPSHOT)]["dagster/row_count"].value == snapshot_rows


def test_materialize_parses_dbt_only_when_the_project_or_its_variables_changed(tmp_path, monkeypatch):
    """`studentops materialize` parses before every run; it skips dbt's start-up when nothing a parse
    reads has changed: the project's files, the connection variables, the timezone, dbt's version."""
    import shutil

    from dagster_dbt import DbtProject

    from studentops_assets.warehouse.project import DBT_PROJECT_DIR, PARSE_STAMP, prepare_if_changed

    project_dir = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    for name, value in (("STUDENTOPS_PGHOST", "127.0.0.1"), ("STUDENTOPS_PGPORT", "1"), ("STUDENTOPS_PGUSER", "u"),
                        ("STUDENTOPS_PGPASSWORD", "not-a-real-password"), ("STUDENTOPS_PGDATABASE", "warehouse"),
                        ("STUDENTOPS_TIMEZONE", "Europe/Amsterdam")):
        monkeypatch.setenv(name, value)
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir)
    manifest = project.manifest_path

    assert prepare_if_changed(project) is True and manifest.exists()
    parsed_at = manifest.stat().st_mtime_ns
    assert "not-a-real-password" not in (manifest.parent / PARSE_STAMP).read_text()

    assert prepare_if_changed(project) is False
    assert manifest.stat().st_mtime_ns == parsed_at

    # A new timezone is a new parse (the models read it), and so is an edited model. A command that
    # opened the manifest before the parse (another home's `studentops materialize` loading its
    # graph) goes on reading the whole old file: the new one is renamed in, never written in place.
    monkeypatch.setenv("STUDENTOPS_TIMEZONE", "America/New_York")
    old_manifest = manifest.read_bytes()
    with manifest.open("rb") as reader:
        assert prepare_if_changed(project) is True
        assert reader.read() == old_manifest
    assert json.loads(manifest.read_text())["nodes"]
    assert sorted(p.name for p in manifest.parent.iterdir() if p.name.startswith(".parse-")) == []
    assert prepare_if_changed(project) is False
    model = project_dir / "models" / "marts" / "dim_terms.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert prepare_if_changed(project) is True
    assert prepare_if_changed(project) is False

    # A manifest removed by hand is parsed again even though the stamp is there.
    manifest.unlink()
    assert prepare_if_changed(project) is True and manifest.exists()
