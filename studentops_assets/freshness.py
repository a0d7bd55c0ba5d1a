"""Freshness policies, applied in one place (definitions.py) to every asset by its group.

The study day is refreshed nightly (see sensors/schedules.py); a raw table or model that has not been
materialised for a day and a bit is late (warn), for two days is stale (fail).
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

DAILY = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=48), warn_window=timedelta(hours=26))

POLICY_BY_GROUP: dict[str, dg.FreshnessPolicy] = {
    "notes": DAILY,
    "calendar": DAILY,
    "references": DAILY,
    "platform": DAILY,
    "warehouse": DAILY,
    "search": DAILY,
}


def with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Keep a policy an asset declares itself; otherwise use its group's, else the daily one."""
    policy = POLICY_BY_GROUP.get(spec.group_name or "", DAILY)
    return dg.apply_freshness_policy(spec, policy, overwrite_existing=False)
