"""Schedules of the original design, in the study timezone (studentops.yaml `timezone`, read when the
code location loads). Each targets the part of the graph it names, not the whole graph:

- 06:30 ingestion of every study source and the platform replicas (the raw loaders);
- 06:45 dbt: the SCD2 snapshot and the staging and gold models, with their checks.

The ML, AI and digest schedules live with their domains' sensors modules. Between the schedules,
declarative automation (studentops_assets/automation.py) carries new raw data on to the marts.
"""

from __future__ import annotations

import dagster as dg

from studentops_assets.core.network_loaders import LOADER_RETRY_POLICY

RAW_GROUPS = ("notes", "calendar", "references", "platform")

ingest_sources_job = dg.define_asset_job(
    name="ingest_sources",
    selection=dg.AssetSelection.groups(*RAW_GROUPS),
    # The network loaders carry this policy themselves (core/network_loaders.py), in every run; here
    # it also covers the file loaders of the scheduled ingestion (a warehouse restart at 06:30).
    op_retry_policy=LOADER_RETRY_POLICY,
    description="Every raw loader: notes vault, calendars, Google Calendar, Zotero, reference inbox, "
    "DOI resolution and the platform replicas.",
)

warehouse_build_job = dg.define_asset_job(
    name="warehouse_build",
    selection=dg.AssetSelection.groups("warehouse"),
    description="dbt: the assessments snapshot, staging views, gold dimensions and facts, their tests and "
    "the Great Expectations suites.",
)


def schedule_definitions(timezone: str) -> list[dg.ScheduleDefinition]:
    return [
        dg.ScheduleDefinition(
            name="ingest_sources_schedule",
            job=ingest_sources_job,
            cron_schedule="30 6 * * *",
            execution_timezone=timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="06:30: all sources, so the morning's marts hold yesterday complete.",
        ),
        dg.ScheduleDefinition(
            name="warehouse_build_schedule",
            job=warehouse_build_job,
            cron_schedule="45 6 * * *",
            execution_timezone=timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="06:45: dbt snapshot + build after the ingestion, gold tables ready by 07:00.",
        ),
    ]
