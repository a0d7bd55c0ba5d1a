"""Declarative automation: one automation-condition sensor per workload class, running by default
(as dagster-open-platform does), so a slow class never delays another's evaluation.

The conditions themselves are set in one place, studentops_assets/automation.py.
"""

from __future__ import annotations

import dagster as dg

WORKLOAD_CLASSES = {
    # Raw loaders (dlt and the file readers): mostly driven by schedules and the drop-folder sensor.
    "automation_loads": ("notes", "calendar", "references", "platform"),
    # dbt models: a new raw table version reaches the marts without waiting for the night.
    "automation_dbt": ("warehouse",),
    # Features, models, scores, forecasts, embeddings, summaries and digests.
    "automation_ml": ("ml", "search", "ai", "notify"),
}


def automation_sensors() -> list[dg.AutomationConditionSensorDefinition]:
    return [
        dg.AutomationConditionSensorDefinition(
            name=name,
            target=dg.AssetSelection.groups(*groups),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=30,
            description=f"Evaluates the automation conditions of the {', '.join(groups)} assets.",
        )
        for name, groups in WORKLOAD_CLASSES.items()
    ]
