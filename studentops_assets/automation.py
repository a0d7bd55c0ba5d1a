"""Automation conditions, applied in one place (definitions.py) by group, like freshness policies.

- warehouse (dbt): `eager()`: a model runs when a parent raw table or model has new data and no
  parent is missing or running, so a file dropped in the inbox reaches the marts within minutes
  (the drop-folder sensor loads it; the dbt automation sensor carries it on).
- search: `eager()`: new materials, notes and abstracts are chunked and embedded when they land.
- ml/churn_scores: `eager()`: scoring follows a new feature partition (or a newly promoted model)
  without waiting for the 03:00 schedule.
- the other assets keep what they declare themselves; raw loaders run from schedules and sensors,
  never eagerly (they have no parents to react to); models are retrained on their weekly schedule,
  not whenever a feature partition lands.
"""

from __future__ import annotations

import dagster as dg

# Raw loaders that may be "not configured" (no platform database, nobody with Google Calendar or
# Zotero): they then record an observation and no materialisation (core/health.py), so on a home
# that never had them they stay "missing" for good. The models must not wait for them: their empty
# tables exist. (Their updates still trigger the models: only the missing test ignores them.)
OPTIONAL_SOURCES = dg.AssetSelection.groups("platform") | dg.AssetSelection.assets(
    dg.AssetKey(["raw", "gcal_events"]), dg.AssetKey(["raw", "zotero_items"])
)
EAGER_BESIDE_OPTIONAL_SOURCES = dg.AutomationCondition.eager().replace(
    "any_deps_missing", dg.AutomationCondition.any_deps_missing().ignore(OPTIONAL_SOURCES)
)

CONDITION_BY_GROUP: dict[str, dg.AutomationCondition] = {
    "warehouse": EAGER_BESIDE_OPTIONAL_SOURCES,
    # Chunks and embeddings follow new or changed materials, notes and abstracts (only what changed is
    # re-embedded).
    "search": dg.AutomationCondition.eager(),
}


CONDITION_BY_KEY: dict[dg.AssetKey, dg.AutomationCondition] = {
    dg.AssetKey(["ml", "churn_scores"]): dg.AutomationCondition.eager(),
}


def with_automation(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Keep a condition an asset declares itself; otherwise its key's, else its group's, if any."""
    if spec.automation_condition is not None:
        return spec
    condition = CONDITION_BY_KEY.get(spec.key) or CONDITION_BY_GROUP.get(spec.group_name or "")
    return spec.replace_attributes(automation_condition=condition) if condition is not None else spec
