"""ML schedules in the study timezone: forecast daily at 02:00, churn scoring daily at 03:00, the
week's feature partition early on Monday, retraining (churn model, forecast backtest) on Sunday."""

from __future__ import annotations

import dagster as dg

_FEATURES = dg.AssetKey(["ml", "student_features"])

ml_forecast_job = dg.define_asset_job(
    name="ml_daily_forecast",
    selection=dg.AssetSelection.assets(["ml", "demand_forecast"], ["ml", "forecast_accuracy"]),
    description="The next 7 days of hourly demand per course, and every past forecast scored on what happened.",
)
ml_scoring_job = dg.define_asset_job(
    name="ml_daily_churn_scoring",
    selection=dg.AssetSelection.assets(["ml", "churn_scores"]),
    description="Churn scores of the latest as-of date from the production model, and their alerts.",
)
ml_retraining_job = dg.define_asset_job(
    name="ml_weekly_retraining",
    selection=dg.AssetSelection.assets(["ml", "churn_model"], ["ml", "forecast_backtest"]),
    description="Retrain the churn model (promotion gate) and re-run the forecast backtest that picks the model.",
)
# Partitioned on its own: a job's assets share one partitioning.
ml_features_job = dg.define_asset_job(
    name="ml_weekly_features",
    selection=dg.AssetSelection.assets(_FEATURES),
    description="The feature partition of the study week that just ended.",
)


def ml_schedules(tz: str) -> list[dg.ScheduleDefinition]:
    running = dg.DefaultScheduleStatus.RUNNING
    return [
        dg.ScheduleDefinition(name="ml_daily_forecast_schedule", job=ml_forecast_job, cron_schedule="0 2 * * *",
                              execution_timezone=tz, default_status=running),
        dg.ScheduleDefinition(name="ml_daily_churn_scoring_schedule", job=ml_scoring_job, cron_schedule="0 3 * * *",
                              execution_timezone=tz, default_status=running),
        dg.ScheduleDefinition(name="ml_weekly_retraining_schedule", job=ml_retraining_job, cron_schedule="0 4 * * 0",
                              execution_timezone=tz, default_status=running),
        # Monday 01:00: the week that ended at midnight is the newest partition (its as-of date is today).
        # Its timezone is the partitions' (ml/feature_assets.py, built with the same `tz`).
        dg.build_schedule_from_partitioned_job(ml_features_job, hour_of_day=1, default_status=running),
    ]

