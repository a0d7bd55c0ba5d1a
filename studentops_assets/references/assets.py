"""The references group: `raw/bibtex_entries` and `raw/ris_entries` from the inbox, and
`raw/citation_cache` downstream of every table that cites DOIs."""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
from dagster_dlt import DagsterDltResource, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from resources.scholarly_apis import ScholarlyApisResource
from resources.warehouse import WarehouseResource
from studentops_assets.core.dlt_support import RawTableTranslator, raw_pipeline
from studentops_assets.core.network_loaders import network_dlt_assets
from studentops_assets.core.quarantine import QuarantineBatch
from studentops_assets.core.raw_loads import QuarantineFlusher, raw_table_stats

from .citation_cache import SOURCE as CACHE_SOURCE
from .citation_cache import (
    CacheStats,
    Resolver,
    cached_states,
    citation_cache_source,
    plan_lookups,
    record_rechecks,
    seen_dois,
)
from .sources import BIBTEX_SOURCE, RIS_SOURCE, InboxSpec, InboxStats, bibtex_source, ris_source

GROUP = "references"
DOI_RESOLUTION = "doi_resolution"
# The tables whose DOIs the cache resolves. raw/zotero_items is declared by the Zotero loader; the
# cache reads it only once it exists (see citation_cache.CITING_TABLES).
CITING_ASSETS = [dg.AssetKey(["raw", t]) for t in ("notes", "bibtex_entries", "ris_entries", "zotero_items")]

translator = RawTableTranslator(
    group_name=GROUP,
    descriptions={
        "bibtex_entries": (
            "One row per BibTeX entry per inbox file per student (`$STUDENTOPS_HOME/inbox/**/*.bib`, parsed "
            "with bibtexparser 2): @string macros expanded, crossref resolved, LaTeX decoded to Unicode, DOI "
            "normalised; the raw fields in `_record`. Broken blocks and repeated citation keys (the first is "
            "kept) go to meta.quarantine; the rest of the file loads."
        ),
        "ris_entries": (
            "One row per distinct RIS record per student (`$STUDENTOPS_HOME/inbox/**/*.ris`, parsed per "
            "record with rispy), keyed by sha256 of type, title, DOI and year. Truncated or malformed "
            "records go to meta.quarantine; the rest of the file loads."
        ),
    },
)


class CitationCacheTranslator(RawTableTranslator):
    """The cache is the one raw table fed by other raw tables: it depends on every table citing DOIs."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        return super().get_asset_spec(data).replace_attributes(deps=CITING_ASSETS)


cache_translator = CitationCacheTranslator(
    group_name=GROUP,
    descriptions={
        "citation_cache": (
            "One row per DOI cited in notes, BibTeX, RIS or Zotero, resolved against OpenAlex with Crossref "
            "as fallback: title, year, venue, authors, citation count, retraction flag, the provider's JSON. "
            "Resolved rows are re-checked after 30 days, unresolved ones after a day; lookups per run are "
            "bounded. Outages leave rows as they were (or unresolved with the reason) instead of failing the run; "
            "the doi_resolution check reports them (WARN for some DOIs, ERROR when neither provider answered)."
        )
    },
)


def _inbox_run(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    warehouse: WarehouseResource,
    source_name: str,
    make_source,
    table: str,
) -> Iterator[dg.MaterializeResult]:
    config = warehouse.settings()
    stats = InboxStats()
    flush_quarantine = QuarantineFlusher(warehouse)

    source = make_source(
        inbox=InboxSpec(config.inbox_dir, config.students),
        quarantine=QuarantineBatch(source_name),
        loaded_at=dt.datetime.now(dt.timezone.utc),
        flush_quarantine=flush_quarantine,
        stats=stats,
    )
    pipeline = raw_pipeline(source_name, config, warehouse.dlt_credentials())
    results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
    table_stats = raw_table_stats(warehouse, table, source_name)
    for result in results:
        yield dg.MaterializeResult(
            asset_key=result.asset_key,
            metadata={
                **(result.metadata or {}),
                **table_stats.metadata(flush_quarantine.issues),
                "inbox": dg.MetadataValue.path(str(config.inbox_dir)),
                "files_in_inbox": dg.MetadataValue.int(stats.files_in_inbox),
                "files_read": dg.MetadataValue.int(stats.files_read),
                "files_unchanged": dg.MetadataValue.int(stats.files_unchanged),
                "files_unassigned": dg.MetadataValue.int(stats.files_unassigned),
                "rows_loaded_this_run": dg.MetadataValue.int(stats.rows_upserted),
                "rows_deleted_this_run": dg.MetadataValue.int(stats.rows_deleted),
                "duplicates_skipped_this_run": dg.MetadataValue.int(stats.duplicates_skipped),
            },
        )


@dlt_assets(
    dlt_source=bibtex_source(),
    dlt_pipeline=raw_pipeline(BIBTEX_SOURCE),
    name="raw_bibtex_entries",
    dagster_dlt_translator=translator,
    pool="dlt_bibtex",
)
def raw_bibtex_entries(context: dg.AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource):
    yield from _inbox_run(context, dlt, warehouse, BIBTEX_SOURCE, bibtex_source, "bibtex_entries")


@dlt_assets(
    dlt_source=ris_source(),
    dlt_pipeline=raw_pipeline(RIS_SOURCE),
    name="raw_ris_entries",
    dagster_dlt_translator=translator,
    pool="dlt_ris",
)
def raw_ris_entries(context: dg.AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource):
    yield from _inbox_run(context, dlt, warehouse, RIS_SOURCE, ris_source, "ris_entries")


@network_dlt_assets(
    dlt_source=citation_cache_source(),
    dlt_pipeline=raw_pipeline(CACHE_SOURCE),
    name="raw_citation_cache",
    dagster_dlt_translator=cache_translator,
    pool="dlt_citation_cache",
    check_specs=lambda keys: [
        dg.AssetCheckSpec(
            DOI_RESOLUTION,
            asset=key,
            description="The DOIs looked up in the run got an answer from OpenAlex or Crossref (found or 404). "
            "WARN when some got none (5xx, 429, timeouts after the retries), ERROR when none did (both "
            "providers unreachable or down): their rows are kept as they were and asked again next run.",
        )
        for key in keys
    ],
)
def raw_citation_cache(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    warehouse: WarehouseResource,
    scholarly_apis: ScholarlyApisResource,
):
    config = warehouse.settings()
    started = dt.datetime.now(dt.timezone.utc)
    with warehouse.connection() as conn:
        seen, per_table = seen_dois(conn)
        cached = cached_states(conn)
    plan = plan_lookups(seen, cached, started, scholarly_apis)
    stats = CacheStats()
    flush_quarantine = QuarantineFlusher(warehouse)

    source = citation_cache_source(
        plan=plan,
        resolver=Resolver(scholarly_apis, stats),
        quarantine=QuarantineBatch(CACHE_SOURCE),
        loaded_at=started,
        stats=stats,
        flush_quarantine=flush_quarantine,
    )
    pipeline = raw_pipeline(CACHE_SOURCE, config, warehouse.dlt_credentials())
    results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
    with warehouse.connection() as conn:
        record_rechecks(conn, stats.rechecked, started)
    table_stats = raw_table_stats(warehouse, "citation_cache", CACHE_SOURCE, per_student=False)
    resolved_total = retracted_total = 0
    if table_stats.rows:
        with warehouse.connection() as conn, conn.cursor() as cur:
            cur.execute("select count(*) filter (where resolved), count(*) filter (where is_retracted) "
                        "from raw.citation_cache")
            resolved_total, retracted_total = cur.fetchone()
    rows = table_stats.rows
    for result in results:
        yield dg.MaterializeResult(
            asset_key=result.asset_key,
            metadata={
                **(result.metadata or {}),
                "dagster/row_count": dg.MetadataValue.int(rows),
                "resolved_total": dg.MetadataValue.int(resolved_total),
                "unresolved_total": dg.MetadataValue.int(rows - resolved_total),
                "retracted_total": dg.MetadataValue.int(retracted_total),
                "dois_cited": dg.MetadataValue.int(plan.seen),
                "dois_cited_by_table": dg.MetadataValue.json(per_table),
                "fresh_in_cache": dg.MetadataValue.int(plan.fresh),
                "looked_up_this_run": dg.MetadataValue.int(stats.looked_up),
                "resolved_this_run": dg.MetadataValue.int(stats.resolved),
                "unresolved_this_run": dg.MetadataValue.int(stats.unresolved),
                "kept_previous_on_failure": dg.MetadataValue.int(stats.kept_previous),
                "unchanged_failures": dg.MetadataValue.int(stats.unchanged_failures),
                "deferred_to_next_run": dg.MetadataValue.int(plan.deferred),
                "max_lookups_per_run": dg.MetadataValue.int(scholarly_apis.max_lookups_per_run),
                "resolved_by_provider": dg.MetadataValue.json(stats.by_provider),
                "requests_by_provider": dg.MetadataValue.json(stats.requests),
                "quarantine_issues_this_run": dg.MetadataValue.int(flush_quarantine.issues),
                "quarantined_total": dg.MetadataValue.int(table_stats.quarantined_total),
                "lookups_without_answer_this_run": dg.MetadataValue.int(stats.lookup_failures),
            },
        )
    if context.selected_asset_check_keys:
        yield resolution_check(stats)


def resolution_check(stats: CacheStats) -> dg.AssetCheckResult:
    """An outage leaves the cache as it was and the run succeeds (`studentops materialize` too): this
    check is how it shows. ERROR when no lookup of the run got an answer, WARN when some did not."""
    failed, asked = stats.lookup_failures, stats.looked_up
    if not failed:
        description = f"{asked} DOIs looked up, every one answered" if asked else "no DOI was due for a lookup"
    elif failed == asked:
        description = f"OpenAlex and Crossref unreachable or down: none of {asked} DOIs got an answer"
    else:
        description = f"{failed} of {asked} DOIs got no answer (5xx, 429 or timeouts after the retries)"
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(["raw", "citation_cache"]),
        check_name=DOI_RESOLUTION,
        passed=failed == 0,
        severity=dg.AssetCheckSeverity.ERROR if failed and failed == asked else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "looked_up": dg.MetadataValue.int(asked),
            "without_answer": dg.MetadataValue.int(failed),
            "requests_by_provider": dg.MetadataValue.json(stats.requests),
        },
    )
