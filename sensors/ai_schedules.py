"""Schedules of the `ai` and `notify` groups, in the study timezone (as sensors/schedules.py does).

- 23:00 the summariser: notes through the Message Batches API (when an API key is configured; the
  next run, or the 07:00 collection below, picks up the results), course weeks through Messages.
- 07:00 the daily digests (students and staff). The run first collects last night's batch, so the
  morning digest shows the night's summaries.
- Sunday 18:00 the weekly digests.
"""


import dagster as dg

from resources.llm import LLMResource
from resources.warehouse import WarehouseResource

NOTE_SUMMARIES = dg.AssetKey(["ai", "note_summaries"])

ai_summariser_job = dg.define_asset_job(
    name="ai_summariser",
    selection=dg.AssetSelection.groups("ai"),
    description="Note summaries and flashcards (nightly batch) and the course weekly summaries.",
    config={"ops": {"ai__note_summaries": {"config": {"batch": True}}}},
)

daily_digest_job = dg.define_asset_job(
    name="daily_digest",
    selection=dg.AssetSelection.assets(NOTE_SUMMARIES, ["meta", "daily_digests"], ["meta", "staff_digests"]),
    description="Collect last night's summaries, then render, record and send the daily and staff digests.",
)

weekly_digest_job = dg.define_asset_job(
    name="weekly_digest",
    selection=dg.AssetSelection.assets(["meta", "weekly_digests"]),
    description="Render, record and send the weekly digests.",
)


def ai_schedules(timezone: str) -> dg.Definitions:  # noqa: D103 - see the module docstring
    return dg.Definitions(
        jobs=[ai_summariser_job, daily_digest_job, weekly_digest_job, collect_batches_job],
        sensors=[ai_batch_results_sensor],
        schedules=[
            dg.ScheduleDefinition(name="ai_summariser_schedule", job=ai_summariser_job, cron_schedule="0 23 * * *",
                                  execution_timezone=timezone, default_status=dg.DefaultScheduleStatus.RUNNING),
            dg.ScheduleDefinition(name="daily_digest_schedule", job=daily_digest_job, cron_schedule="0 7 * * *",
                                  execution_timezone=timezone, default_status=dg.DefaultScheduleStatus.RUNNING),
            dg.ScheduleDefinition(name="weekly_digest_schedule", job=weekly_digest_job, cron_schedule="0 18 * * 0",
                                  execution_timezone=timezone, default_status=dg.DefaultScheduleStatus.RUNNING),
        ],
    )


collect_batches_job = dg.define_asset_job(
    name="ai_collect_batches",
    selection=dg.AssetSelection.assets(NOTE_SUMMARIES),
    description="Collect ended Message Batches into ai/note_summaries (submits nothing new).",
)


@dg.sensor(
    name="ai_batch_results_sensor",
    job=collect_batches_job,
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 15 minutes: when a submitted Message Batch has ended, run ai/note_summaries to collect it.",
)
def ai_batch_results_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, llm: LLMResource):
    if not llm.enabled:
        return dg.SkipReason("no ANTHROPIC_API_KEY: nothing is submitted as a batch")
    from studentops_assets.ai.batches import open_batches
    from studentops_assets.ai.note_summaries import ASSET_KEY_TEXT

    with warehouse.connection() as conn:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('meta.ai_usage') is not null")
            if not cur.fetchone()[0]:
                return dg.SkipReason("meta.ai_usage does not exist yet")
        pending = open_batches(conn, ASSET_KEY_TEXT)
    if not pending:
        return dg.SkipReason("no batch waiting for collection")
    client = llm.client()
    ended = [b for b in pending if client.messages.batches.retrieve(b).processing_status == "ended"]
    if not ended:
        return dg.SkipReason(f"{len(pending)} batch(es) still processing")
    # One run collects every ended batch; the run key makes a later tick not ask again for the same ones.
    return dg.RunRequest(run_key="collect-" + "-".join(sorted(ended)),
                         run_config={"ops": {"ai__note_summaries": {"config": {"batch": False}}}})
