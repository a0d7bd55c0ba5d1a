"""`raw/platform_*`: the study platform's database, replicated with dlt (pyarrow batches, COPY loads)."""

import time

import dagster as dg
import psycopg2
from dagster_dlt import DagsterDltResource, dlt_assets

from resources.warehouse import WarehouseResource
from studentops_assets.core.dlt_support import RawTableTranslator, raw_pipeline
from studentops_assets.core.settings import load_config

from .availability import empty_replicas, ensure_empty_replicas, platform_configured
from .deletions import remove_deleted_rows
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


@dlt_assets(
    # Definition time only needs the table list; nothing connects until the asset runs.
    dlt_source=platform_source("postgresql://definition-only@127.0.0.1/platform"),
    dlt_pipeline=raw_pipeline("platform", load_config()),
    name="raw_platform",
    dagster_dlt_translator=translator,
    pool="dlt_platform",
)
def raw_platform(context: dg.AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource):
    urls = warehouse.urls()
    config = warehouse.settings()
    configured, why = platform_configured(urls)
    if not configured:
        with warehouse.connection() as conn:
            created = ensure_empty_replicas(conn)
        context.log.warning(f"platform not configured: {why}; raw.platform_* are empty")
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "dagster/row_count": dg.MetadataValue.int(0),
                    "status": dg.MetadataValue.text(f"not configured: {why}"),
                    "created_empty": dg.MetadataValue.bool(key.path[-1] in created),
                },
            )
        return
    with warehouse.connection() as conn:
        empty = empty_replicas(conn, [BY_RAW_TABLE[k.path[-1]] for k in context.selected_asset_keys])
    pipeline = raw_pipeline("platform", config, warehouse.dlt_credentials())
    started = time.monotonic()
    # csv files loaded with COPY: the fastest path dlt has into Postgres (STACK.md measurements).
    results = list(
        dlt.run(
            context=context,
            dlt_source=platform_source(urls.platform, backend=config.platform_backend, empty_replicas=empty),
            dlt_pipeline=pipeline,
            loader_file_format="csv",
        )
    )
    load_seconds = time.monotonic() - started
    row_counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace.last_normalize_info else {}
    rows_this_run = sum(v for k, v in row_counts.items() if k in BY_RAW_TABLE)

    deleted: dict[str, int] = {}
    totals: dict[str, int] = {}
    platform_conn = psycopg2.connect(urls.platform, connect_timeout=10)
    try:
        with warehouse.connection() as conn:
            for result in results:
                table = BY_RAW_TABLE[result.asset_key.path[-1]]
                if table.delete_detection:
                    deleted[table.raw_table] = remove_deleted_rows(platform_conn, conn, table)
            with conn.cursor() as cur:
                for result in results:
                    name = result.asset_key.path[-1]
                    cur.execute(f'select count(*) from raw."{name}"')
                    totals[name] = cur.fetchone()[0]
    finally:
        platform_conn.close()

    context.log.info(
        f"platform replication: {rows_this_run:,} rows in {load_seconds:.1f}s "
        f"({rows_this_run / load_seconds if load_seconds else 0:,.0f} rows/s)"
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
                "rows_deleted_this_run": dg.MetadataValue.int(deleted.get(name, 0)),
                # Throughput of the whole replication run (all selected tables share one dlt run).
                "run_rows_per_second": dg.MetadataValue.float(round(rows_this_run / load_seconds, 1) if load_seconds else 0.0),
                "run_seconds": dg.MetadataValue.float(round(load_seconds, 2)),
            },
        )
