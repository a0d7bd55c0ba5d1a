"""Freshness of the ml group, in the study timezone (the schedules' clock: sensors/ml_schedules.py).

Daily products (scores, forecast, accuracy) are due by 06:00 local each day, a day's data at most old;
the weekly ones (features, the retrained model, the backtest) by Monday 06:00, materialised in the 7 days before it.

The assets declare these policies when their modules are imported, before any studentops.yaml is
read, so they are written in UTC here; freshness.py puts every declared cron deadline in the study
timezone when the code location loads (`in_timezone`).
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg


def ml_daily(timezone: str) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.cron(deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=24), timezone=timezone)


def ml_weekly(timezone: str) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.cron(deadline_cron="0 6 * * 1", lower_bound_delta=timedelta(days=7), timezone=timezone)


ML_DAILY = ml_daily("UTC")
ML_WEEKLY = ml_weekly("UTC")
