"""Schedules: the nightly refresh of the whole graph, in the study timezone."""

from __future__ import annotations

import dagster as dg

from studentops_assets.core.settings import load_config

nightly_refresh_job = dg.define_asset_job(
    name="nightly_refresh",
    # The ai and notify groups keep their own hours (sensors/ai_schedules.py): summaries at 23:00,
    # digests at 07:00, never at 03:30.
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("ai", "notify"),
    description="Every raw table, then the dbt models, once a night.",
)

nightly_refresh_schedule = dg.ScheduleDefinition(
    name="nightly_refresh_schedule",
    job=nightly_refresh_job,
    # 03:30 local: after midnight so "yesterday" is complete, before a student's morning.
    cron_schedule="30 3 * * *",
    execution_timezone=load_config().timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
