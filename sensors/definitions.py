"""Sensors and schedules, built against the assets the code location actually has."""

from __future__ import annotations

import dagster as dg

from .alerts import alert_mails, build_freshness_alert_sensor, run_failure_alerts, run_success_resolves_alerts
from .ai_schedules import ai_schedules
from .automation import automation_sensors
from .drop_folders import build_drop_folder_sensor
from .ml_schedules import ml_schedules
from .schedules import ingest_sources_job, schedule_definitions, warehouse_build_job


def sensor_definitions(asset_keys: set[dg.AssetKey], timezone: str) -> dg.Definitions:
    """`timezone`: the study timezone, read from studentops.yaml when the code location loads."""
    return dg.Definitions.merge(dg.Definitions(
        jobs=[ingest_sources_job, warehouse_build_job],
        schedules=[*schedule_definitions(timezone), *ml_schedules(timezone)],
        sensors=[
            build_drop_folder_sensor(asset_keys),
            *automation_sensors(),
            run_failure_alerts,
            alert_mails,
            run_success_resolves_alerts,
            build_freshness_alert_sensor(asset_keys),
        ],
    ), ai_schedules(timezone))
