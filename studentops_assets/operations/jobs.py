"""The retention job and its schedule (daily, in the study timezone)."""



import datetime as dt
from typing import Optional

import dagster as dg

from studentops_assets.core.settings import load_config

from .retention import purge_instance_history

DEFAULT_KEEP_DAYS = 30


class RetentionConfig(dg.Config):
    keep_days: Optional[int] = None  # None: `retention: {keep_days: N}` in studentops.yaml, else 30


def configured_keep_days() -> int:
    return load_config().retention_keep_days


@dg.op(
    description="Deletes finished runs (and their event logs) older than the horizon, keeping the run of "
    "the latest materialisation, observation and check result of every asset and partition.",
)
def purge_old_runs(context: dg.OpExecutionContext, config: RetentionConfig) -> dg.Output[int]:
    keep_days = config.keep_days if config.keep_days is not None else configured_keep_days()
    if keep_days < 1:
        raise dg.Failure(f"keep_days must be at least 1 (got {keep_days})")
    graph = context.repository_def.asset_graph
    result = purge_instance_history(
        context.instance,
        older_than=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=keep_days),
        asset_keys=graph.get_all_asset_keys(),
        check_keys=sorted(graph.asset_check_keys),
    )
    context.log.info(
        f"retention: {len(result.deleted)} of {result.examined} runs older than {keep_days} days deleted; "
        f"{len(result.kept_as_latest)} kept because they hold a latest result"
    )
    return dg.Output(
        len(result.deleted),
        metadata={
            "keep_days": keep_days,
            "older_than": result.older_than.isoformat(),
            "runs_examined": result.examined,
            "runs_deleted": len(result.deleted),
            "runs_kept_as_latest": len(result.kept_as_latest),
        },
    )


@dg.job(
    name="instance_retention",
    description="Bounds the Dagster instance's Postgres storage: old runs and their event logs are purged.",
    tags={"studentops/workload": "operations"},
)
def instance_retention_job():
    purge_old_runs()


def instance_retention_schedule(timezone: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="instance_retention_schedule",
        job=instance_retention_job,
        # 04:15 local: after the night's ML runs, before the morning ingestion.
        cron_schedule="15 4 * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
