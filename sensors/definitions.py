"""Sensors and schedules, built against the assets the code location actually has."""

from __future__ import annotations

import dagster as dg

from .ai_schedules import ai_schedules
from .drop_folders import build_drop_folder_sensor
from .schedules import nightly_refresh_job, nightly_refresh_schedule


def sensor_definitions(asset_keys: set[dg.AssetKey]) -> dg.Definitions:
    return dg.Definitions.merge(dg.Definitions(
        jobs=[nightly_refresh_job],
        schedules=[nightly_refresh_schedule],
        sensors=[build_drop_folder_sensor(asset_keys)],
    ), ai_schedules())
