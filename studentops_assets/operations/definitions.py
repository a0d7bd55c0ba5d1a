import dagster as dg

from studentops_assets.core.settings import load_config

from .jobs import instance_retention_job, instance_retention_schedule

defs = dg.Definitions(
    jobs=[instance_retention_job],
    schedules=[instance_retention_schedule(load_config().timezone)],
)
