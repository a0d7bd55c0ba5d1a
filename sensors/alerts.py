"""Alerts in `meta.alerts`: a failed run, an asset whose freshness policy failed.

At most one alert is open per (type, entity) (a unique partial index): a second failure of the same
job or a still-stale asset changes nothing; the alert resolves when the job next succeeds or the
asset is fresh again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import dagster as dg
from dagster._core.definitions.freshness import FreshnessState

from resources.warehouse import WarehouseResource

OPEN_ALERT_SQL = """
insert into meta.alerts (alert_type, severity, entity_type, entity_id, summary, details)
values (%s, %s, %s, %s, %s, %s::jsonb)
on conflict (alert_type, entity_type, entity_id) where status <> 'resolved' do nothing
returning alert_id
"""
RESOLVE_ALERT_SQL = """
update meta.alerts set status = 'resolved', resolved_at = now()
where alert_type = %s and entity_type = %s and entity_id = %s and status <> 'resolved'
"""


def open_alert(warehouse: WarehouseResource, alert_type: str, severity: str, entity_type: str, entity_id: str,
               summary: str, details: dict) -> bool:
    """Open an alert unless one is open already; True if a new one was opened."""
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(OPEN_ALERT_SQL, (alert_type, severity, entity_type, entity_id, summary, json.dumps(details)))
        opened = cur.fetchone() is not None
        conn.commit()
    return opened


def resolve_alert(warehouse: WarehouseResource, alert_type: str, entity_type: str, entity_id: str) -> int:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(RESOLVE_ALERT_SQL, (alert_type, entity_type, entity_id))
        resolved = cur.rowcount
        conn.commit()
    return resolved


def _root_cause(error) -> str | None:
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message if error is not None else None


def _first_line(text: str | None) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "no message")


@dg.run_failure_sensor(
    name="run_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Opens a critical alert in meta.alerts for every job whose run failed (one open alert "
    "per job).",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    failed_steps = [event.step_key for event in step_failures if event.step_key]
    # The step's own error says what went wrong; the run's message only lists the failed steps.
    error = _root_cause(step_failures[0].step_failure_data.error) if step_failures else None
    if error is None and context.failure_event is not None:
        error = context.failure_event.message
    opened = open_alert(
        warehouse, "run_failure", "critical", "job", run.job_name,
        summary=f"run {run.run_id[:8]} of {run.job_name} failed: {_first_line(error)}"[:500],
        details={"run_id": run.run_id, "failed_steps": failed_steps[:50]},
    )
    context.log.info(f"run {run.run_id} of {run.job_name} failed; alert {'opened' if opened else 'already open'}")


@dg.run_status_sensor(
    name="run_success_resolves_alerts",
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Resolves a job's open run-failure alert once a run of that job succeeds.",
)
def run_success_resolves_alerts(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
    resolve_alert(warehouse, "run_failure", "job", context.dagster_run.job_name)


def _freshness_alerts(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                      keys: Iterable[dg.AssetKey]) -> dg.SkipReason:
    records = context.instance.get_freshness_state_records(list(keys))
    opened = resolved = 0
    for key, record in records.items():
        name = key.to_user_string()
        if record.freshness_state == FreshnessState.FAIL:
            opened += open_alert(warehouse, "freshness_failed", "warning", "asset", name,
                                 summary=f"{name} is stale: its freshness policy failed",
                                 details={"since": record.updated_at.isoformat()})
        elif record.freshness_state == FreshnessState.PASS:
            resolved += resolve_alert(warehouse, "freshness_failed", "asset", name)
    return dg.SkipReason(f"{len(records)} freshness states read; {opened} alerts opened, {resolved} resolved")


def build_freshness_alert_sensor(asset_keys: set[dg.AssetKey]) -> dg.SensorDefinition:
    @dg.sensor(
        name="freshness_alerts",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Opens a warning alert in meta.alerts for every asset whose freshness policy failed, "
        "and resolves it when the asset is fresh again.",
    )
    def freshness_alerts(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        return _freshness_alerts(context, warehouse, sorted(asset_keys))

    return freshness_alerts
