"""What the UI shows on every asset and check page: descriptions on every check, column descriptions
next to the column types on dbt models and raw tables."""

from __future__ import annotations

import dagster as dg

from studentops_assets.definitions import defs
from studentops_assets.warehouse.translator import describe_test


def test_every_asset_check_says_what_it_checks():
    graph = defs.get_repository_def().asset_graph
    checks = list(graph.asset_check_keys)
    assert len(checks) > 100
    missing = [key.to_user_string() for key in checks if not (graph.get_check_spec(key).description or "").strip()]
    assert missing == []
    spec = graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey(["marts", "dim_students"]), "unique_dim_students_student_id"))
    assert spec.description == "Every value of student_id is unique (no duplicate keys)."


def test_generic_dbt_tests_are_described_from_their_arguments():
    relationships = {"test_metadata": {"name": "relationships", "kwargs": {
        "column_name": "course_code", "to": "ref('dim_courses')", "field": "course_code"}}}
    assert describe_test(relationships) == (
        "Every non-null course_code exists as course_code in dim_courses (no orphan rows).")
    accepted = {"test_metadata": {"name": "accepted_values", "kwargs": {
        "column_name": "source", "arguments": {"values": ["ical", "gcal"]}}}}
    assert describe_test(accepted) == "source only takes the accepted values: ical, gcal."
    assert describe_test({"description": "Own words.", "test_metadata": {"name": "unique"}}) == "Own words."


def test_raw_and_dbt_pages_show_column_types_and_descriptions(shared_demo, monkeypatch):
    """The latest materialisation of each table carries a column schema with types AND descriptions."""
    from studentops_assets.core.urls import sqlalchemy_psycopg2_url

    monkeypatch.setenv("DAGSTER_HOME", str(shared_demo.path / "dagster"))
    monkeypatch.setenv("STUDENTOPS_DAGSTER_DATABASE_URL",
                       sqlalchemy_psycopg2_url(shared_demo.db_url("--database", "dagster")))
    with dg.DagsterInstance.get() as instance:
        for key, column, kind in (
            (["marts", "dim_students"], "student_id", "uuid"),
            (["marts", "fact_study_sessions"], "duration_minutes", "numeric"),
            (["raw", "citation_cache"], "doi", "text"),
            (["raw", "notes"], "_dlt_load_id", "text"),
        ):
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            assert event is not None, key
            schema = event.asset_materialization.metadata["dagster/column_schema"].schema
            columns = {c.name: c for c in schema.columns}
            assert columns[column].type == kind, (key, columns[column])
            assert columns[column].description, (key, column)
            if key[0] == "marts":
                # Every column of a gold table is documented in the dbt yml files.
                assert [c.name for c in schema.columns if not c.description] == [], key
