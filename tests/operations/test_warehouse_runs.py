"""The warehouse on the real graph: declarative automation carries a dropped file to the marts, and a
failing gold suite stops the models that read the broken table.

A small demo is materialised for real; then a new .bib file is loaded by its raw loader (what the
drop-folder sensor requests) and the automation conditions are evaluated against the instance, as
the dbt automation sensor does on each tick: exactly the models downstream of the changed raw table
are requested, and running them puts the new reference into marts.fact_citations. Then the
platform sends a viewing session with an impossible completion score: the Great Expectations suite
on marts.fact_material_views fails and the dbt layers that read it (fact_study_sessions, then
fact_daily_engagement) do not run.
"""

from __future__ import annotations

import json
import re

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


BREAK_PLATFORM = """
do $$ declare r record; begin
  for r in select conname from pg_constraint
           where conrelid = 'file_viewing_sessions'::regclass and contype = 'c' loop
    execute format('alter table file_viewing_sessions drop constraint %I', r.conname);
  end loop;
end $$;
update file_viewing_sessions set completion_score = 1.5
where id = (select id from file_viewing_sessions order by started_at desc, id limit 1);
"""


def materialised_in_run(home, run_id: str) -> set[str]:
    rows = home.query(
        "select distinct asset_key from event_logs where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'",
        (run_id,), url=home.db_url("--database", "dagster"))
    return {"/".join(json.loads(key)) for (key,) in rows}


def test_a_failing_gold_suite_stops_what_reads_the_broken_table(home):
    before = home.query("select md5(string_agg(t::text, '' order by t::text)) from marts.fact_study_sessions t")
    home.query(BREAK_PLATFORM, url=home.db_url("--database", "platform"))

    result = home.cli("materialize", "--select", RAW_AND_WAREHOUSE, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "FAILED check marts/fact_material_views:gx_material_views" in output
    (run_id,) = re.findall(r"\(run ([0-9a-f-]{36})\)", output)
    built = materialised_in_run(home, run_id)
    # The broken table itself was built (its suite runs on it), and so was the rest of its layer ...
    assert {"marts/fact_material_views", "marts/dim_students", "staging/stg_platform_file_viewing_sessions"} <= built
    # ... but nothing that reads it ran: the next layers were skipped, their tables unchanged.
    assert "marts/fact_study_sessions" not in built and "marts/fact_daily_engagement" not in built
    assert home.query("select md5(string_agg(t::text, '' order by t::text)) from marts.fact_study_sessions t") == before
    assert home.query("select count(*) from marts.fact_material_views where completion_score > 1") == [(1,)]
