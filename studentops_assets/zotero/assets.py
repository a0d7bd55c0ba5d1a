"""`raw/zotero_items`: the students' Zotero libraries through the Zotero Web API v3, loaded with dlt."""

import datetime as dt
from collections.abc import Sequence

import dagster as dg
from dagster_dlt import DagsterDltResource

from resources.warehouse import WarehouseResource
from resources.zotero import ZoteroResource, student_key_env
from studentops_assets.core.dlt_support import RawTableTranslator, raw_pipeline
from studentops_assets.core.health import (
    not_configured_outputs,
    source_configured_results,
    source_configured_specs,
    source_failure,
)
from studentops_assets.core.network_loaders import network_dlt_assets
from studentops_assets.core.quarantine import QuarantineBatch
from studentops_assets.core.raw_loads import QuarantineFlusher, raw_table_stats

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


@network_dlt_assets(
    dlt_source=zotero_source(),
    dlt_pipeline=raw_pipeline("zotero"),
    name="raw_zotero_items",
    dagster_dlt_translator=translator,
    pool="dlt_zotero",
    check_specs=lambda keys: source_configured_specs(keys, "Zotero (a student's `zotero:` library and an API key)"),
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
    # Also when nobody can be synced: the first run creates the empty table the dbt models read, and
    # config issues are recorded in (or cleared from) meta.quarantine.
    results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
    statuses = [_student_status(p, report) for p in plans]
    if not any(p.library is not None for p in plans):
        why = "no student has a Zotero library and an API key (" + "; ".join(
            f"{s['student']}: {s['status']}" for s in statuses
        ) + ")" if statuses else "no students"
        yield from not_configured_outputs(context, why, {"zotero_students": dg.MetadataValue.json(statuses)})
        yield from source_configured_results(context, why)
        return
    table_stats = raw_table_stats(warehouse, TABLE, SOURCE)
    by_status = [str(s["status"]).split(":")[0] for s in statuses]
    failed = [s for s in statuses if s["status"] in ("failed", "refused")]
    read = by_status.count("synced") + by_status.count("unchanged")
    # When no library could be read, nothing new is in the table: no materialisation (it would
    # count as fresh), only the failure.
    for result in results if read or not failed else []:
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
    yield from source_configured_results(context, None, f"{read} libraries read")
    if failed:
        # The others loaded and committed their cursors; these kept theirs, so a rerun picks them up.
        # A refused key or library (401/403/404) is not retried: it needs the student or an admin.
        raise source_failure(
            "Zotero",
            [f"{s['student']} ({s['library']}): {s['status']}: {s['error']}" for s in failed],
            retryable=any(s["status"] == "failed" for s in failed),
            loaded=(f"{read} other libraries loaded; " if read else "")
            + "these resume from the last loaded version on the next run",
        )
