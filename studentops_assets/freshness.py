"""Freshness policies, applied in one place (definitions.py) to every asset by its group.

Each group's policy says how often that group really refreshes (sensors/schedules.py and the domains'
schedules), as a cron deadline in the study timezone: "materialised in the `lower_bound` before each
deadline". A group without a schedule of its own falls back to a plain time window.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

DAY = timedelta(hours=24)
# A group with no schedule: late after a day and a bit, stale after two.
DAILY = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=48), warn_window=timedelta(hours=26))

# group -> (deadline cron, lower bound): when the group's data must be fresh, and how far back a
# materialisation still counts.
DEADLINES: dict[str, tuple[str, timedelta]] = {
    # Study sources: ingestion 06:30 (and the drop-folder sensor whenever files change).
    "notes": ("0 7 * * *", DAY),
    "calendar": ("0 7 * * *", DAY),
    "references": ("0 7 * * *", DAY),
    # Platform replicas and the marts: daily by 07:00 (ingestion 06:30, dbt 06:45).
    "platform": ("0 7 * * *", DAY),
    "warehouse": ("0 7 * * *", DAY),
    # ML: forecast 02:00, churn scoring 03:00, due by 06:00 (weekly assets declare their own policy,
    # studentops_assets/ml/freshness_policies.py).
    "ml": ("0 6 * * *", DAY),
    # Summaries at 23:00 (collected again at 07:00) and the daily digests at 07:00: due by 08:00
    # (the weekly digests declare their own weekly policy).
    "ai": ("0 8 * * *", DAY),
    # Embeddings follow the marts (declarative automation) after the 06:45 dbt build.
    "search": ("0 8 * * *", DAY),
    "notify": ("0 8 * * *", DAY),
}


def policy_for_group(group: str | None, timezone: str) -> dg.FreshnessPolicy:
    if group in DEADLINES:
        cron, lower_bound = DEADLINES[group]
        return dg.FreshnessPolicy.cron(deadline_cron=cron, lower_bound_delta=lower_bound, timezone=timezone)
    return DAILY


def in_timezone(policy: dg.FreshnessPolicy | None, timezone: str) -> dg.FreshnessPolicy | None:
    """A cron deadline an asset declares is a deadline in the study timezone. The asset is declared at
    import, before studentops.yaml is read (ml/freshness_policies.py writes them in UTC); the code
    location puts them in the study timezone when it loads."""
    # dagster exports only the FreshnessPolicy base; a cron policy is the one with a deadline.
    if getattr(policy, "deadline_cron", None) and policy.timezone != timezone:
        return dg.FreshnessPolicy.cron(
            deadline_cron=policy.deadline_cron, lower_bound_delta=policy.lower_bound_delta, timezone=timezone
        )
    return policy


def with_freshness(spec: dg.AssetSpec, timezone: str) -> dg.AssetSpec:
    """Keep a policy an asset declares itself (in the study timezone); otherwise use its group's, else
    the daily window."""
    declared = in_timezone(spec.freshness_policy, timezone)
    if declared is not None:
        return spec if declared is spec.freshness_policy else dg.apply_freshness_policy(spec, declared)
    return dg.apply_freshness_policy(spec, policy_for_group(spec.group_name, timezone), overwrite_existing=False)
