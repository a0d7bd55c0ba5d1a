"""Freshness of the ml group, in the study timezone (the schedules' clock: sensors/ml_schedules.py).

Daily products (scores, forecast, accuracy) are due by 06:00 local each day, a day's data at most old;
the weekly ones (features, the retrained model, the backtest) by Monday 06:00, materialised in the 7 days before it.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from studentops_assets.core.settings import load_config

_TZ = load_config().timezone  # read when the code location loads, as sensors/schedules.py does

ML_DAILY = dg.FreshnessPolicy.cron(deadline_cron="0 6 * * *", lower_bound_delta=timedelta(hours=24), timezone=_TZ)
ML_WEEKLY = dg.FreshnessPolicy.cron(deadline_cron="0 6 * * 1", lower_bound_delta=timedelta(days=7), timezone=_TZ)
