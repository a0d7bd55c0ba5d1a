"""`raw/platform_*`: the study platform's database, replicated with dlt (arrow batches, COPY loads)."""

import shutil
import time
from pathlib import Path

import dagster as dg
import psycopg2
from dagster_dlt import DagsterDltResource

from resources.warehouse import WarehouseResource
from studentops_assets.core.dlt_support import RawTableTranslator, raw_pipeline
from studentops_assets.core.health import (
    not_configured_outputs,
    source_configured_results,
    source_configured_specs,
    source_failure,
)
from studentops_assets.core.network_loaders import network_dlt_assets

from .availability import empty_replicas, ensure_empty_replicas, platform_configured
from .deletions import DeletionCheck, remove_deleted_rows
from .replica_indexes import ensure_replica_indexes
from .source import platform_source
from .tables import BY_RAW_TABLE, PLATFORM_TABLES

translator = RawTableTranslator(
    group_name="platform",
    descriptions={
        t.name: f"{t.description} Replicated from the platform database's `{t.name}` "
        f"({t.disposition}{', cursor ' + t.cursor if t.cursor else ''}"
        f"{', deletions detected' if t.delete_detection else ''})."
        for t in PLATFORM_TABLES
    },
)


def extracted_row_counts(extract_info) -> dict[str, int]:
    """Rows per table read from the source in this run. Taken from extraction, not normalize: the csv
    load files are imported as they are, so normalize counts no rows of its own."""
    counts: dict[str, int] = {}
    for metrics_list in (extract_info.metrics if extract_info else {}).values():
        for metrics in metrics_list:
            for table, table_metrics in metrics["table_metrics"].items():
                counts[table] = counts.get(table, 0) + table_metrics.items_count
    return counts


@network_dlt_assets(
    # Definition time only needs the table list; nothing connects until the asset runs.
    dlt_source=platform_source("postgresql://definition-only@127.0.0.1/platform"),
    dlt_pipeline=raw_pipeline("platform", arrow_csv=True),
    name="raw_platform",
    dagster_dlt_translator=translator,
    pool="dlt_platform",
    check_specs=lambda keys: source_configured_specs(keys, "The platform database (STUDENTOPS_PLATFORM_URL or the demo's)"),
)
def raw_platform(context: dg.AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource):
    urls = warehouse.urls()
    config = warehouse.settings()
    configured, why = platform_configured(urls)
    if not configured:
        # The dbt models read raw.platform_*: they exist empty, with the contract's columns. Nothing is
        # materialised (the replicas are not fresh data); an observation and the WARN check say why.
        with warehouse.connection() as conn:
            created = ensure_empty_replicas(conn)
        yield from not_configured_outputs(context, why, {"created_empty": dg.MetadataValue.json(sorted(created))})
        yield from source_configured_results(context, why)
        return
    try:
        yield from _replicate(context, dlt, warehouse, urls, config)
    except Exception as exc:
        cause = _connection_error(exc)
        if cause is None:
            raise
        # Unreachable or refusing the login: the step is red and names the cause in one line (the
        # driver's first line names host and port, never the password). dlt wraps extraction errors,
        # so the connection error is looked for along the chain.
        lines = str(cause).strip().splitlines()
        raise source_failure("platform database", [lines[0] if lines else type(cause).__name__], retryable=True) from None


def _connection_error(exc: BaseException | None) -> BaseException | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == "OperationalError":  # psycopg2's, or SQLAlchemy's wrapping it
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _replicate(context, dlt, warehouse, urls, config):
    with warehouse.connection() as conn:
        empty = empty_replicas(conn, [BY_RAW_TABLE[k.path[-1]] for k in context.selected_asset_keys])
    pipeline = raw_pipeline("platform", config, warehouse.dlt_credentials(), arrow_csv=True)
    # The csv load files written during extraction (load_files.py) live next to the pipeline, on the
    # same filesystem, so dlt takes them by hard link; the load package keeps its own link.
    # One platform run at a time (pool dlt_platform), so a fixed folder is safe; emptying it first
    # clears what a killed run left behind.
    load_files_dir = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}-load-files"
    shutil.rmtree(load_files_dir, ignore_errors=True)
    started = time.monotonic()
    try:
        source = platform_source(
            urls.platform, backend=config.platform_backend, empty_replicas=empty, load_files_dir=load_files_dir
        )
        # csv files loaded with COPY: the fastest path dlt has into Postgres (STACK.md measurements).
        results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline, loader_file_format="csv"))
    finally:
        shutil.rmtree(load_files_dir, ignore_errors=True)
    load_seconds = time.monotonic() - started
    stage_seconds = {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in pipeline.last_trace.steps
        if step.step in ("extract", "normalize", "load") and step.finished_at
    }
    row_counts = extracted_row_counts(pipeline.last_trace.last_extract_info)
    rows_this_run = sum(v for k, v in row_counts.items() if k in BY_RAW_TABLE)

    with warehouse.connection() as conn:
        indexed = ensure_replica_indexes(conn, [BY_RAW_TABLE[r.asset_key.path[-1]] for r in results])
    if indexed:
        context.log.info(f"indexed the replicas: {', '.join(indexed)}")

    checks: dict[str, DeletionCheck] = {}
    check_seconds: dict[str, float] = {}
    platform_conn = psycopg2.connect(urls.platform, connect_timeout=10)
    try:
        with warehouse.connection() as conn:
            for result in results:
                table = BY_RAW_TABLE[result.asset_key.path[-1]]
                # A replica that was empty before this run holds exactly what was just read: there
                # is nothing it could have that the source deleted.
                if table.delete_detection and table.raw_table not in empty:
                    check_started = time.monotonic()
                    checks[table.raw_table] = remove_deleted_rows(platform_conn, conn, table)
                    check_seconds[table.raw_table] = time.monotonic() - check_started
            totals = _replica_row_counts(conn, [r.asset_key.path[-1] for r in results], checks)
    finally:
        platform_conn.close()

    context.log.info(
        f"platform replication: {rows_this_run:,} rows in {load_seconds:.1f}s "
        f"({rows_this_run / load_seconds if load_seconds else 0:,.0f} rows/s; "
        + ", ".join(f"{step} {seconds:.1f}s" for step, seconds in stage_seconds.items())
        + ")"
    )
    if checks:
        context.log.info(
            "deletion checks: " + ", ".join(
                f"{name} {check_seconds[name]:.1f}s ({check.ids_compared:,} ids streamed, "
                f"{check.buckets_differing:,}/{check.buckets:,} buckets differ, {check.rows_deleted:,} deleted)"
                for name, check in checks.items()
            )
        )
    for result in results:
        name = result.asset_key.path[-1]
        loaded = row_counts.get(name, 0)
        yield dg.MaterializeResult(
            asset_key=result.asset_key,
            metadata={
                **(result.metadata or {}),
                "dagster/row_count": dg.MetadataValue.int(totals[name]),
                "rows_loaded_this_run": dg.MetadataValue.int(loaded),
                "rows_deleted_this_run": dg.MetadataValue.int(checks[name].rows_deleted if name in checks else 0),
                **(_deletion_check_metadata(checks.get(name), check_seconds.get(name, 0.0))
                   if BY_RAW_TABLE[name].delete_detection else {}),
                # Throughput of the whole replication run (all selected tables share one dlt run).
                "run_rows_per_second": dg.MetadataValue.float(round(rows_this_run / load_seconds, 1) if load_seconds else 0.0),
                "run_seconds": dg.MetadataValue.float(round(load_seconds, 2)),
                **{
                    f"run_{step}_seconds": dg.MetadataValue.float(round(seconds, 2))
                    for step, seconds in stage_seconds.items()
                },
                "first_sync": dg.MetadataValue.bool(name in empty),
            },
        )
    yield from source_configured_results(context, None)


def _replica_row_counts(conn, raw_tables: list[str], checks: dict[str, DeletionCheck]) -> dict[str, int]:
    """Exact rows per replica. The deletion check already counted its tables' rows in its replica
    summary; the others are counted here (the catalogue's reltuples is an estimate, and
    `dagster/row_count` is read as a fact)."""
    totals = {name: checks[name].replica_rows for name in raw_tables if name in checks}
    with conn, conn.cursor() as cur:
        for name in raw_tables:
            if name not in totals:
                cur.execute(f'select count(*) from raw."{name}"')
                totals[name] = cur.fetchone()[0]
    return totals


def _deletion_check_metadata(check: DeletionCheck | None, seconds: float) -> dict[str, dg.MetadataValue]:
    """What the deletion check cost: the ids streamed from the source grow with the change (the ids
    of the checksum buckets that differ), not with the table. No check on a first sync: all zero."""
    return {
        "ids_compared_this_run": dg.MetadataValue.int(check.ids_compared if check else 0),
        "deletion_check_buckets": dg.MetadataValue.int(check.buckets if check else 0),
        "deletion_check_buckets_differing": dg.MetadataValue.int(check.buckets_differing if check else 0),
        "deletion_check_seconds": dg.MetadataValue.float(round(seconds, 2)),
    }
