"""Automation conditions, applied in one place (definitions.py) by group, like freshness policies.

- warehouse (dbt): `eager()`: a model runs when a parent raw table or model has new data and no
  parent is missing or running, so a file dropped in the inbox reaches the marts within minutes
  (the drop-folder sensor loads it; the dbt automation sensor carries it on).
- the other groups keep what their assets declare themselves (ML scoring follows a new feature
  partition, declared by the ML domain); raw loaders run from schedules and sensors, never eagerly
  (they have no parents to react to).
"""

from __future__ import annotations

import dagster as dg

CONDITION_BY_GROUP: dict[str, dg.AutomationCondition] = {
    "warehouse": dg.AutomationCondition.eager(),
}


def with_automation(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Keep a condition an asset declares itself; otherwise use its group's, if any."""
    if spec.automation_condition is not None:
        return spec
    condition = CONDITION_BY_GROUP.get(spec.group_name or "")
    return spec.replace_attributes(automation_condition=condition) if condition is not None else spec
