"""`raw/zotero_items`: the students' Zotero libraries through the Zotero Web API v3, loaded with dlt."""

import datetime as dt
from collections.abc import Sequence

import dagster as dg
from dagster_dlt import DagsterDltResource, dlt_assets

from resources.warehouse import WarehouseResource
from resources.zotero import ZoteroResource, student_key_env
from studentops_assets.core.dlt_support import RawTableTranslator, raw_pipeline
from studentops_assets.core.quarantine import QuarantineBatch
from studentops_assets.core.raw_loads import QuarantineFlusher, raw_table_stats
from studentops_assets.core.settings import load_config

from .config import StudentPlan, plan_students
from .loaded import known_keys_reader, quarantined_files, retired_rows
from .source import SOURCE, TABLE, SyncReport, zotero_source

translator = RawTableTranslator(
    group_name="references",
    descriptions={
        TABLE: (
            "One row per item of each configured student's Zotero library (studentops.yaml "
            "`zotero: {library_type, library_id}`, key from STUDENTOPS_ZOTERO_API_KEY[_<SLUG>]), read "
            "incrementally from the Zotero Web API v3 by library version: changed items are merged, "
            "deleted and trashed ones removed. Bad items and configs go to meta.quarantine; the full item "
            "`data` is kept in `_record`."
        )
    },
)


def _student_status(plan: StudentPlan, report: SyncReport) -> dict[str, object]:
    entry: dict[str, object] = {"student": plan.slug, "library": plan.library_path, "status": plan.status}
    if plan.library is None:
        return entry
    cursor_id = plan.library.cursor_id
    outcome = report.outcomes.get(cursor_id)
    if outcome is None:
        return entry
    entry.update(
        status=outcome.status,
        version_before=outcome.version_before,
        version_after=outcome.version_after,
        items_loaded=report.rows.get(cursor_id, 0),
        items_removed=report.tombstones.get(cursor_id, 0),
    )
    if outcome.error:
        entry["error"] = outcome.error
    return entry


def _markdown(statuses: Sequence[dict[str, object]]) -> str:
    lines = ["| student | library | status | version | loaded | removed |", "|---|---|---|---|---|---|"]
    for s in statuses:
        version = f"{s.get('version_before') or 0} -> {s['version_after']}" if "version_after" in s else ""
        status = str(s["status"]) + (f": {s['error']}" if s.get("error") else "")
        lines.append(
            f"| {s['student']} | {s['library'] or ''} | {status} | {version} "
            f"| {s.get('items_loaded', '')} | {s.get('items_removed', '')} |"
        )
    return "\n".join(lines)


@dlt_assets(
    dlt_source=zotero_source(),
    dlt_pipeline=raw_pipeline("zotero"),
    name="raw_zotero_items",
    dagster_dlt_translator=translator,
    pool="dlt_zotero",
)
def raw_zotero_items(
    context: dg.AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource, zotero: ZoteroResource
):
    config = warehouse.settings()
    plans = plan_students(config.students, zotero.api_key_for, student_key_env)
    report = SyncReport()
    flush_quarantine = QuarantineFlusher(warehouse)

    source = zotero_source(
        plans=plans,
        client=zotero.client(),
        retired=retired_rows(warehouse, plans),
        known_keys=known_keys_reader(warehouse),
        quarantine=QuarantineBatch(SOURCE),
        quarantined_files=quarantined_files(warehouse),
        loaded_at=dt.datetime.now(dt.timezone.utc),
        flush_quarantine=flush_quarantine,
        report=report,
    )
    pipeline = raw_pipeline("zotero", config, warehouse.dlt_credentials())
    results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
    table_stats = raw_table_stats(warehouse, TABLE, SOURCE)
    statuses = [_student_status(p, report) for p in plans]
    by_status = [str(s["status"]).split(":")[0] for s in statuses]
    for result in results:
        yield dg.MaterializeResult(
            asset_key=result.asset_key,
            metadata={
                **(result.metadata or {}),
                **table_stats.metadata(flush_quarantine.issues),
                "libraries_synced": dg.MetadataValue.int(by_status.count("synced")),
                "libraries_unchanged": dg.MetadataValue.int(by_status.count("unchanged")),
                "libraries_not_configured": dg.MetadataValue.int(by_status.count("not configured")),
                "libraries_with_errors": dg.MetadataValue.int(
                    sum(by_status.count(s) for s in ("invalid config", "refused", "failed", "moving"))
                ),
                "items_loaded_this_run": dg.MetadataValue.int(sum(report.rows.values())),
                "items_removed_this_run": dg.MetadataValue.int(sum(report.tombstones.values()) + report.retired),
                "zotero_students": dg.MetadataValue.json(statuses),
                "zotero_students_table": dg.MetadataValue.md(_markdown(statuses)),
            },
        )
    failed = [s for s in statuses if s["status"] == "failed"]
    if failed:
        # The others loaded and committed their cursors; these kept theirs, so a rerun picks them up.
        raise dg.Failure(
            description="Zotero sync failed for "
            + "; ".join(f"{s['student']} ({s['library']}): {s['error']}" for s in failed)
            + ". Their libraries resume from the last loaded version on the next run.",
            metadata={"failed_students": dg.MetadataValue.json(failed)},
        )
