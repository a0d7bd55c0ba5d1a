"""Declarative automation on the real graph: a file dropped into the inbox reaches the marts.

A small demo is materialised for real; then a new .bib file is loaded by its raw loader (what the
drop-folder sensor requests) and the automation conditions are evaluated against the instance, as
the dbt automation sensor does on each tick: exactly the models downstream of the changed raw table
are requested, and running them puts the new reference into marts.fact_citations.
"""

from __future__ import annotations

import dagster as dg
import pytest

from studentops_assets.core.urls import sqlalchemy_psycopg2_url
from tests.conftest import Home, free_port

RAW_AND_WAREHOUSE = "group:notes or group:calendar or group:references or group:platform or group:warehouse"
NEW_BIB = """\
@article{automation2026dropped,
  author = {Liskov, Barbara},
  title = {Automation Reaches the Marts},
  journal = {Journal of Declarative Orchestration},
  year = {2026},
  doi = {10.5555/automation.2026.1},
}
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("automation-home"), free_port())
    home.cli("demo", "--students", "12", "--days", "21", "--seed", "3", "--vault-students", "1",
             "--end-date", "2026-11-15")
    home.cli("materialize", "--select", RAW_AND_WAREHOUSE)
    yield home
    home.stop()


@pytest.fixture
def instance(home, monkeypatch):
    monkeypatch.setenv("STUDENTOPS_HOME", str(home.path))
    monkeypatch.setenv("STUDENTOPS_PG_PORT", str(home.port))
    monkeypatch.setenv("DAGSTER_HOME", str(home.path / "dagster"))
    monkeypatch.setenv("STUDENTOPS_DAGSTER_DATABASE_URL",
                       sqlalchemy_psycopg2_url(home.db_url("--database", "dagster")))
    with dg.DagsterInstance.get() as inst:
        yield inst


def requested(result) -> set[str]:
    return {r.key.to_user_string() for r in result.results
            if isinstance(r.key, dg.AssetKey) and result.get_num_requested(r.key)}


def test_a_dropped_bib_file_reaches_fact_citations(home, instance):
    from studentops_assets.definitions import defs

    selection = dg.AssetSelection.groups("warehouse")
    baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection)
    # Everything was just built: nothing to do yet (the first tick may request nothing at all).
    assert baseline.total_requested == 0, requested(baseline)

    slug = next((home.path / "vault").iterdir()).name
    (home.path / "inbox" / f"dropped-{slug}.bib").write_text(NEW_BIB, encoding="utf-8")
    home.cli("materialize", "--select", "key:raw/bibtex_entries")

    tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                             cursor=baseline.cursor)
    keys = requested(tick)
    assert "staging/stg_bibtex_entries" in keys, keys
    # Only what depends on the changed table: the platform facts are untouched.
    assert "marts/fact_xp_ledger" not in keys and "staging/stg_platform_users" not in keys

    # Tick by tick, as the sensor would: run what is requested until fact_citations has been built.
    cursor = tick.cursor
    for _ in range(4):
        if not keys:
            break
        home.cli("materialize", "--select", " or ".join(f"key:{k}" for k in sorted(keys)))
        if "marts/fact_citations" in keys:
            break
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                                 cursor=cursor)
        cursor, keys = tick.cursor, requested(tick)
    rows = home.query("select count(*) from marts.fact_citations "
                      "where doi = '10.5555/automation.2026.1' and bibtex_key = 'automation2026dropped'")
    assert rows == [(1,)]
