"""What each stage of the graph cost in a `studentops materialize`, read from the Dagster event log.

A whole-graph materialise is one to three Dagster runs (run_plan.py); every step of them logs
STEP_START and STEP_SUCCESS with a timestamp, and the assets it materialised or checked. A step
belongs to the stage of the assets it touched; a step that only evaluates checks of dbt models is a
data-quality (GX) step. The figures are the instance's own, so they are what the UI shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import RunsFilter

# In the order the graph runs them; "search queries" is measured by the benchmark itself (yardsticks.py).
STAGES = (
    "platform replication",
    "study sources",
    "dbt build",
    "quality checks",
    "features",
    "churn train + score",
    "forecast",
    "embeddings",
    "ai + digests",
)
_SOURCE_GROUPS = {"notes", "calendar", "references"}


def stage_of(key: dg.AssetKey, group: str | None) -> str:
    path = key.to_user_string()
    if group == "platform":
        return "platform replication"
    if group in _SOURCE_GROUPS:
        return "study sources"
    if group == "warehouse":
        return "dbt build"
    if group == "search":
        return "embeddings"
    if path == "ml/student_features":
        return "features"
    if path.startswith("ml/churn"):
        return "churn train + score"
    if "forecast" in path:
        return "forecast"
    return "ai + digests"


@dataclass
class StepTiming:
    run_id: str
    step_key: str
    stage: str
    started: float  # unix time
    finished: float
    assets: list[str] = field(default_factory=list)
    # dbt models: seconds per model as dbt reported them (the materialisation's "Execution Duration").
    model_seconds: dict[str, float] = field(default_factory=dict)
    # dbt tests: seconds per test, the same way (the check evaluation's "Execution Duration").
    test_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass
class GraphRun:
    """The Dagster runs of one `studentops materialize` and the steps they executed."""

    run_ids: list[str]
    steps: list[StepTiming]
    started: float  # first RUN_START
    finished: float  # last RUN_SUCCESS

    @property
    def dagster_seconds(self) -> float:
        return self.finished - self.started

    def stage_seconds(self) -> dict[str, float]:
        """Seconds of step execution per stage (parallel steps add up: work done, not wall time)."""
        out = {stage: 0.0 for stage in STAGES}
        for step in self.steps:
            out[step.stage] += step.seconds
        return {stage: round(seconds, 3) for stage, seconds in out.items() if seconds > 0}

    def stage_steps(self) -> dict[str, list[StepTiming]]:
        out: dict[str, list[StepTiming]] = {}
        for step in self.steps:
            out.setdefault(step.stage, []).append(step)
        return out

    def model_seconds(self) -> dict[str, float]:
        merged: dict[str, float] = {}
        for step in self.steps:
            merged.update(step.model_seconds)
        return merged

    def test_seconds(self) -> dict[str, float]:
        merged: dict[str, float] = {}
        for step in self.steps:
            merged.update(step.test_seconds)
        return merged


def _groups() -> dict[dg.AssetKey, str | None]:
    from studentops_assets.definitions import defs

    graph = defs.get_repository_def().asset_graph
    return {key: graph.get(key).group_name for key in graph.get_all_asset_keys()}


_EVENTS = {
    DagsterEventType.RUN_START,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
}


def runs_since(instance: dg.DagsterInstance, since: dt.datetime) -> list[str]:
    runs = instance.get_runs(filters=RunsFilter(created_after=since))
    return [run.run_id for run in sorted(runs, key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)]


def read_graph_run(instance: dg.DagsterInstance, run_ids: Iterable[str]) -> GraphRun:
    groups = _groups()
    steps: list[StepTiming] = []
    run_ids = list(run_ids)
    run_start, run_end = [], []
    for run_id in run_ids:
        open_steps: dict[str, float] = {}
        touched: dict[str, list[tuple[dg.AssetKey, bool]]] = {}
        models: dict[str, dict[str, float]] = {}
        tests: dict[str, dict[str, float]] = {}
        finished: dict[str, float] = {}
        for entry in instance.all_logs(run_id, of_type=_EVENTS):
            event = entry.dagster_event
            kind = event.event_type
            if kind == DagsterEventType.RUN_START:
                run_start.append(entry.timestamp)
            elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
                run_end.append(entry.timestamp)
            elif kind == DagsterEventType.STEP_START:
                open_steps[event.step_key] = entry.timestamp
            elif kind == DagsterEventType.STEP_SUCCESS:
                finished[event.step_key] = entry.timestamp
            elif kind == DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.step_materialization_data.materialization
                touched.setdefault(event.step_key, []).append((materialization.asset_key, True))
                duration = materialization.metadata.get("Execution Duration")
                if duration is not None:
                    models.setdefault(event.step_key, {})[materialization.asset_key.to_user_string()] = float(duration.value)
            elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                touched.setdefault(event.step_key, []).append((evaluation.asset_key, False))
                duration = (evaluation.metadata or {}).get("Execution Duration")
                if duration is not None:
                    name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                    tests.setdefault(event.step_key, {})[name] = float(duration.value)
        for step_key, started in open_steps.items():
            if step_key not in finished:
                continue
            keys = touched.get(step_key, [])
            materialised = [key for key, built in keys if built]
            checked = [key for key, built in keys if not built]
            if materialised:
                stage = stage_of(materialised[0], groups.get(materialised[0]))
            elif checked:
                stage = stage_of(checked[0], groups.get(checked[0]))
                # A step that only checks dbt models is a GX suite, not part of the build.
                stage = "quality checks" if stage == "dbt build" else stage
            else:
                stage = "ai + digests"
            steps.append(StepTiming(run_id, step_key, stage, started, finished[step_key],
                                    sorted({k.to_user_string() for k in materialised}), models.get(step_key, {}),
                                    tests.get(step_key, {})))
    if not run_start or not run_end:
        raise ValueError("the materialise left no finished Dagster run in the instance")
    return GraphRun(run_ids, sorted(steps, key=lambda s: s.started), min(run_start), max(run_end))
