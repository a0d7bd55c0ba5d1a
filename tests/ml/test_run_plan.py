"""`studentops materialize` of the whole graph: the run plan splits mixed partitioning into runs."""

from __future__ import annotations

import dagster as dg

from studentops_assets.definitions import defs
from studentops_assets.run_plan import RANGE_END, RANGE_START, plan_runs

FEATURES = dg.AssetKey(["ml", "student_features"])


def _graph():
    return defs.get_repository_def().asset_graph


def test_whole_graph_is_upstream_then_all_feature_weeks_in_one_run_then_the_rest():
    graph = _graph()
    keys = graph.get_all_asset_keys() if hasattr(graph, "get_all_asset_keys") else set(graph.materializable_asset_keys)
    keys = {k for k in keys if graph.get(k).is_materializable}
    runs = plan_runs(graph, keys)
    assert [r.stage for r in runs] == [0, 1, 2]
    first, features, rest = runs
    assert set(features.keys) == {FEATURES}
    weeks = features.partitions_def.get_partition_keys()
    assert features.partition_keys == tuple(weeks) and len(weeks) > 40
    assert features.tags == {RANGE_START: weeks[0], RANGE_END: weeks[-1]}
    assert set(rest.keys) == {dg.AssetKey(["ml", "churn_model"]), dg.AssetKey(["ml", "churn_scores"])}
    assert first.tags == {} and rest.tags == {}
    assert dg.AssetKey(["marts", "fact_daily_engagement"]) in first.keys
    assert dg.AssetKey(["ml", "demand_forecast"]) in first.keys  # forecasts need no partition: first run
    assert set(first.keys) | set(features.keys) | set(rest.keys) == keys
    # Every run's assets have one partitioning: Dagster can build a job for each.
    repo = defs.get_repository_def()
    for run in runs:
        assert repo.get_implicit_job_def_for_assets(run.keys) is not None


def test_a_selection_without_partitions_is_one_run():
    keys = {dg.AssetKey(["ml", "churn_model"]), dg.AssetKey(["ml", "churn_scores"])}
    (only,) = plan_runs(_graph(), keys)
    assert set(only.keys) == keys and only.stage == 0 and not only.partition_keys


def test_features_alone_is_one_run_over_every_week():
    (only,) = plan_runs(_graph(), {FEATURES})
    assert only.keys == (FEATURES,) and only.tags[RANGE_START] == "2025-09-01"
