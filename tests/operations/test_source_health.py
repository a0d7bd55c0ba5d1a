"""Honest health: an unconfigured source is observed, not materialised (so never fresh), and says why
in a WARN check; an outage fails the step (red run, an alert) after loading what it could; unreachable
DOI resolvers show as an ERROR check; the network loaders retry in every run.

Real runs on real homes (embedded Postgres, dlt, dbt, Dagster); the APIs are the local stand-ins.
"""

from __future__ import annotations

import asyncio
import textwrap

import dagster as dg
import yaml
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import CronFreshnessPolicyEvaluator
from dagster._core.loader import LoadingContextForTest
from dagster_dlt import DagsterDltResource

from resources.mailer import MailerResource
from resources.scholarly_apis import ScholarlyApisResource
from resources.zotero import ZoteroResource
from sensors.alerts import run_failure_alerts
from studentops_assets.core.network_loaders import LOADER_RETRY_POLICY
from studentops_assets.references.assets import raw_citation_cache
from studentops_assets.zotero.assets import raw_zotero_items

from ..references.fake_scholarly import FakeScholarly
from ..zotero.fake_zotero import FakeZotero, item_key

ADA = "00000000-0000-4000-8000-000000000001"
KEY = "zkHEALTH-0a1b2c3d4e5f60718293"
NOT_CONFIGURED = [dg.AssetKey(["raw", "platform_users"]), dg.AssetKey(["raw", "gcal_events"]),
                  dg.AssetKey(["raw", "zotero_items"])]


def instance_of(home, monkeypatch) -> dg.DagsterInstance:
    from studentops_assets.core.urls import sqlalchemy_psycopg2_url

    monkeypatch.setenv("STUDENTOPS_HOME", str(home.path))
    monkeypatch.setenv("STUDENTOPS_PG_PORT", str(home.port))
    monkeypatch.setenv("DAGSTER_HOME", str(home.path / "dagster"))
    monkeypatch.setenv("STUDENTOPS_DAGSTER_DATABASE_URL", sqlalchemy_psycopg2_url(home.db_url("--database", "dagster")))
    return dg.DagsterInstance.get()


def check_result(instance, asset_key: dg.AssetKey, name: str):
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(asset_key, name)]
    )[dg.AssetCheckKey(asset_key, name)]
    return record.event.dagster_event.event_specific_data if record and record.event else None


def ada_home(new_home):
    home, warehouse = new_home(students=[{"id": ADA, "slug": "ada", "name": "Ada"}])
    note = home.path / "vault" / "ada" / "readings" / "paper.md"
    note.parent.mkdir(parents=True)
    note.write_text(textwrap.dedent("""\
        ---
        type: reading
        course: CS101
        doi: 10.1038/nature14539
        ---
        Deep learning, a review.
        """), encoding="utf-8")
    return home, warehouse


def test_unconfigured_sources_are_observed_not_materialised_and_the_marts_still_build(new_home, monkeypatch):
    home, _ = ada_home(new_home)
    # No platform database, no Google credentials, no Zotero section; the DOI resolvers are a closed
    # port (Home.env). The whole graph, as a user's first `studentops materialize` runs it.
    result = home.cli("materialize")
    assert "warn check raw/platform_users:source_configured" in result.stdout
    assert "warn check raw/gcal_events:source_configured" in result.stdout
    assert "FAILED check raw/citation_cache:doi_resolution" in result.stdout  # ERROR, but not a failed run

    with instance_of(home, monkeypatch) as instance:
        for key in NOT_CONFIGURED:
            # No materialisation: not "0 rows, fresh"...
            assert instance.fetch_materializations(key, limit=1).records == [], key
            # ...but an observation that says why, and a failed WARN check.
            (observation,) = instance.fetch_observations(key, limit=5).records
            status = observation.asset_observation.metadata["source_status"].value
            assert status.startswith("not configured: "), status
            evaluation = check_result(instance, key, "source_configured")
            assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.WARN
            assert evaluation.description == status
        assert "no database 'platform'" in check_result(instance, NOT_CONFIGURED[0], "source_configured").description
        assert "ada: not configured: no google_calendar" in check_result(instance, NOT_CONFIGURED[1], "source_configured").description

        # The freshness policy counts materialisations only: the unconfigured table is never fresh.
        from studentops_assets.definitions import defs

        graph = defs.resolve_asset_graph()

        async def freshness(keys):
            # Dagster's own evaluator (what the daemon runs): it reads the last materialisation only.
            context = LoadingContextForTest(instance)
            return [await CronFreshnessPolicyEvaluator().evaluate_freshness(context, graph.get(k)) for k in keys]

        states = asyncio.run(freshness([*NOT_CONFIGURED, dg.AssetKey(["raw", "notes"])]))
        assert states == [FreshnessState.UNKNOWN] * len(NOT_CONFIGURED) + [FreshnessState.PASS]

        # Everything downstream still built in the same run, on the empty replicas and tables.
        for model in ("staging/stg_platform_users", "staging/stg_gcal_events", "marts/dim_students",
                      "marts/fact_study_sessions", "marts/fact_planned_sessions", "marts/fact_citations"):
            key = dg.AssetKey(model.split("/"))
            assert instance.fetch_materializations(key, limit=1).records, model
        # The DOI the note cites is in the cache, unresolved; the check says the providers were down.
        evaluation = check_result(instance, dg.AssetKey(["raw", "citation_cache"]), "doi_resolution")
        assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert evaluation.metadata["without_answer"].value == evaluation.metadata["looked_up"].value == 1
    assert home.query("select count(*) from raw.platform_users") == [(0,)]
    assert home.query("select doi, resolved from raw.citation_cache") == [("10.1038/nature14539", False)]
    assert home.query("select count(*) from marts.fact_notes_activity") == [(1,)]


def zotero(server: FakeZotero, **overrides) -> ZoteroResource:
    return ZoteroResource(**{**dict(api_base_url=server.url, api_key=KEY, timeout_seconds=1.0, max_attempts=2,
                                    backoff_factor=0.01, max_retry_delay_seconds=0.1), **overrides})


def test_a_refused_zotero_library_fails_the_run_and_opens_an_alert(new_home):
    home, warehouse = new_home(students=[
        {"id": ADA, "slug": "ada", "name": "Ada", "zotero": {"library_type": "user", "library_id": "1001"}},
        {"id": "00000000-0000-4000-8000-000000000002", "slug": "grace", "name": "Grace",
         "zotero": {"library_type": "user", "library_id": "2002"}},
    ])
    with FakeZotero() as server, dg.instance_for_test() as instance:
        ada = server.library("users", 1001, "Ada")
        ada.write({"key": item_key(1), "itemType": "book", "title": "Loaded before the failure"})
        server.grant(KEY, ada)
        server.library("users", 2002, "Grace")  # the key cannot read it: 403
        result = dg.materialize([raw_zotero_items], resources={"warehouse": warehouse, "dlt": DagsterDltResource(),
                                "zotero": zotero(server)}, instance=instance, raise_on_error=False)
        assert not result.success
        (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        message = failure.step_failure_data.user_failure_data.description
        assert message.startswith("Zotero unavailable: grace (users/2002): refused: ") and "403" in message
        assert KEY not in dg.serialize_value(list(instance.all_logs(result.run_id)))
        # Refused for good: not retried.
        assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
        # Ada's library loaded first and is recorded.
        assert warehouse_rows(warehouse, "select title from raw.zotero_items") == [("Loaded before the failure",)]
        assert result.get_asset_materialization_events()

        # The run-failure sensor's logic turns the red run into an alert.
        run = instance.get_run_by_id(result.run_id)
        (record,) = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts", dagster_instance=instance, dagster_run=run,
            dagster_event=record.event_log_entry.dagster_event,
            # No RESEND_API_KEY: the alert mail is recorded, not sent.
            resources={"warehouse": warehouse, "mailer": MailerResource()})
        run_failure_alerts(context.for_run_failure())
    (summary,) = warehouse_rows(warehouse, "select summary from meta.alerts where alert_type = 'run_failure' and status = 'open'")
    assert "Zotero unavailable: grace" in summary[0] and KEY not in summary[0]


def warehouse_rows(warehouse, sql: str) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_all_apis_down_is_red(new_home):
    """Zotero and both DOI resolvers answer 503 to everything: a failed step and an ERROR check."""
    home, warehouse = ada_home(new_home)
    home.cli("materialize", "--select", "key:raw/notes")  # Ada's note cites 10.1038/nature14539
    path = home.path / "studentops.yaml"
    settings = yaml.safe_load(path.read_text())
    settings["students"][0]["zotero"] = {"library_type": "user", "library_id": "1001"}
    path.write_text(yaml.safe_dump(settings))
    scholarly = FakeScholarly().start()
    try:
        for provider in ("openalex", "crossref"):
            scholarly.fault(provider, "10.1038/nature14539", *[("status", 503, 0)] * 10)
        apis = ScholarlyApisResource(openalex_url=scholarly.url("openalex"), crossref_url=scholarly.url("crossref"),
                                     max_attempts=2, backoff_factor=0.01, max_retry_delay_seconds=0.1,
                                     min_interval_seconds=0)
        resources = {"warehouse": warehouse, "dlt": DagsterDltResource(), "scholarly_apis": apis}
        with FakeZotero() as server, dg.instance_for_test() as instance:
            server.grant(KEY, server.library("users", 1001, "Ada"))
            server.add_fault(action="status", status=503, headers={"Retry-After": "0"}, times=99)
            # Separate runs: in one, the cache (downstream of raw/zotero_items) would not start after
            # the Zotero step failed.
            zotero_run = dg.materialize([raw_zotero_items], resources={**resources, "zotero": zotero(server)},
                                        instance=instance, raise_on_error=False)
            # The loader's RetryPolicy ran the step again (no delay in tests, conftest.py): still down.
            assert [e for e in zotero_run.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
            result = dg.materialize([raw_citation_cache], resources=resources, instance=instance)
        assert scholarly.count("openalex") == scholarly.count("crossref") == 2  # every attempt answered 503
    finally:
        scholarly.stop()
    assert not zotero_run.success
    (failure,) = [e for e in zotero_run.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "raw_zotero_items"
    assert failure.step_failure_data.user_failure_data.description.startswith("Zotero unavailable: ada (users/1001): failed: ")
    assert not zotero_run.get_asset_materialization_events()  # nothing loaded: no fresh-looking table
    # The cache run itself succeeds (rows kept as they were); its check is red.
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "doi_resolution"]
    assert evaluation.passed is False and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "unreachable or down" in evaluation.description


def test_network_loaders_retry_in_every_run(new_home):
    """A Zotero outage that outlasts the client's own retries: the step fails, Dagster runs it again
    (the loader's own RetryPolicy, in a plain `studentops materialize`), and the second try loads."""
    from studentops_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    for name in ("platform_users", "gcal_events", "ical_events", "zotero_items", "citation_cache"):
        assert graph.get(dg.AssetKey(["raw", name])).assets_def.op.retry_policy == LOADER_RETRY_POLICY, name
    # Local files: nothing to wait for.
    assert graph.get(dg.AssetKey(["raw", "notes"])).assets_def.op.retry_policy is None

    home, _ = new_home(students=[{"id": ADA, "slug": "ada", "name": "Ada",
                                  "zotero": {"library_type": "user", "library_id": "1001"}}])
    with FakeZotero() as server:
        lib = server.library("users", 1001, "Ada")
        lib.write({"key": item_key(1), "itemType": "book", "title": "Read on the second try"})
        server.grant(KEY, lib)
        # The first request wave: every attempt of the client (max 5) answers 503, Retry-After 0.
        server.add_fault(action="status", status=503, headers={"Retry-After": "0"}, times=5)
        result = home.cli("materialize", "--select", "key:raw/zotero_items", STUDENTOPS_ZOTERO_API_KEY=KEY,
                          STUDENTOPS_ZOTERO_URL=server.url, STUDENTOPS_LOADER_RETRY_DELAY_SECONDS="0")
        requests = server.take_requests()
    assert "1/1 assets materialised" in result.stdout, result.stdout
    assert home.query("select title from raw.zotero_items") == [("Read on the second try",)]
    # Five failed attempts, then the retried step's successful read.
    assert len([r for r in requests if r.library == lib.path]) > 5


def test_doi_resolution_check_grades_the_outage():
    from studentops_assets.references.assets import resolution_check
    from studentops_assets.references.citation_cache import CacheStats

    answered = resolution_check(CacheStats(looked_up=3))
    assert answered.passed and answered.description == "3 DOIs looked up, every one answered"
    assert resolution_check(CacheStats()).passed  # nothing due: nothing to say
    some = resolution_check(CacheStats(looked_up=3, lookup_failures=1))
    assert not some.passed and some.severity == dg.AssetCheckSeverity.WARN
    assert some.description == "1 of 3 DOIs got no answer (5xx, 429 or timeouts after the retries)"
    none = resolution_check(CacheStats(looked_up=3, lookup_failures=3))
    assert not none.passed and none.severity == dg.AssetCheckSeverity.ERROR
