"""Alerts in meta.alerts: a failed run opens one (once per job), a later success resolves it; a failed
freshness policy opens one per asset and a passing one resolves it. Real runs, a real warehouse."""

from __future__ import annotations

import time

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

from sensors.alerts import build_freshness_alert_sensor, run_failure_alerts, run_success_resolves_alerts


@dg.asset
def fragile(context) -> None:
    if context.run.tags.get("break") == "yes":
        raise RuntimeError("the source refused the connection")


JOB = dg.define_asset_job("fragile_job", [fragile])
DEFS = dg.Definitions(assets=[fragile], jobs=[JOB])


@pytest.fixture(scope="module")
def warehouse(new_home):
    _, warehouse = new_home()
    return warehouse


def alerts(warehouse, alert_type: str) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("select entity_id, status, severity, summary, resolved_at is not null from meta.alerts "
                    "where alert_type = %s order by alert_id", (alert_type,))
        return cur.fetchall()


def run_and_notify(instance, warehouse, broken: bool) -> None:
    job = DEFS.get_job_def("fragile_job")
    result = job.execute_in_process(instance=instance, tags={"break": "yes" if broken else "no"},
                                    raise_on_error=False)
    assert result.success is not broken
    run = instance.get_run_by_id(result.run_id)
    event_type = dg.DagsterEventType.RUN_FAILURE if broken else dg.DagsterEventType.RUN_SUCCESS
    (record,) = instance.get_records_for_run(result.run_id, of_type=event_type).records
    context = dg.build_run_status_sensor_context(
        sensor_name="s", dagster_instance=instance, dagster_run=run,
        dagster_event=record.event_log_entry.dagster_event, resources={"warehouse": warehouse})
    if broken:
        run_failure_alerts(context.for_run_failure())
    else:
        run_success_resolves_alerts(context)


def test_failed_runs_open_one_alert_and_a_success_resolves_it(warehouse):
    with dg.instance_for_test() as instance:
        run_and_notify(instance, warehouse, broken=True)
        run_and_notify(instance, warehouse, broken=True)  # still failing: no second alert
        (alert,) = alerts(warehouse, "run_failure")
        assert alert[:3] == ("fragile_job", "open", "critical")
        assert "the source refused the connection" in alert[3]

        run_and_notify(instance, warehouse, broken=False)
        (alert,) = alerts(warehouse, "run_failure")
        assert alert[1] == "resolved" and alert[4]

        run_and_notify(instance, warehouse, broken=True)  # a new failure opens a new alert
        assert [a[1] for a in alerts(warehouse, "run_failure")] == ["resolved", "open"]


def test_failed_freshness_opens_an_alert_until_the_asset_is_fresh(warehouse):
    key = dg.AssetKey(["marts", "fact_demo"])
    sensor = build_freshness_alert_sensor({key})
    with dg.instance_for_test() as instance:
        def change(new: FreshnessState, previous: FreshnessState) -> None:
            instance._report_runless_asset_event(  # the daemon's own way of recording a state change
                FreshnessStateChange(key=key, new_state=new, previous_state=previous,
                                     state_change_timestamp=time.time()))

        def tick():
            return sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse}))

        change(FreshnessState.FAIL, FreshnessState.PASS)
        assert "1 alerts opened" in tick().skip_message
        assert "0 alerts opened" in tick().skip_message  # still stale: no duplicate
        (alert,) = alerts(warehouse, "freshness_failed")
        assert alert[:3] == ("marts/fact_demo", "open", "warning")

        change(FreshnessState.PASS, FreshnessState.FAIL)
        assert "1 resolved" in tick().skip_message
        (alert,) = alerts(warehouse, "freshness_failed")
        assert alert[1] == "resolved"
