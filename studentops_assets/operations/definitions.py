import dagster as dg

from .jobs import instance_retention_job, instance_retention_schedule


def operations_definitions(timezone: str) -> dg.Definitions:
    """Built when the code location loads: the retention schedule runs in the study timezone."""
    return dg.Definitions(jobs=[instance_retention_job], schedules=[instance_retention_schedule(timezone)])
