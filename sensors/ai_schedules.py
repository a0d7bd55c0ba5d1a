"""Schedules of the `ai` and `notify` groups, in the study timezone (as sensors/schedules.py does).

- 23:00 the summariser: notes through the Message Batches API (when an API key is configured; the
  next run, or the 07:00 collection below, picks up the results), course weeks through Messages.
- 07:00 the daily digests (students and staff). The run first collects last night's batch, so the
  morning digest shows the night's summaries.
- Sunday 18:00 the weekly digests.
"""

from __future__ import annotations

import dagster as dg

from studentops_assets.core.settings import load_config

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


def ai_schedules() -> dg.Definitions:
    timezone = load_config().timezone
    return dg.Definitions(
        jobs=[ai_summariser_job, daily_digest_job, weekly_digest_job],
        schedules=[
            dg.ScheduleDefinition(name="ai_summariser_schedule", job=ai_summariser_job, cron_schedule="0 23 * * *",
                                  execution_timezone=timezone, default_status=dg.DefaultScheduleStatus.RUNNING),
            dg.ScheduleDefinition(name="daily_digest_schedule", job=daily_digest_job, cron_schedule="0 7 * * *",
                                  execution_timezone=timezone, default_status=dg.DefaultScheduleStatus.RUNNING),
            dg.ScheduleDefinition(name="weekly_digest_schedule", job=weekly_digest_job, cron_schedule="0 18 * * 0",
                                  execution_timezone=timezone, default_status=dg.DefaultScheduleStatus.RUNNING),
        ],
    )
