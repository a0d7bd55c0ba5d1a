"""The whole asset graph: every asset declared properly, lineage continuous, a snapshot of its shape."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from studentops_assets.definitions import defs

SCHEMAS = {"raw", "staging", "snapshots", "marts", "private", "ml", "meta", "ai", "search"}
GROUPS = {"calendar", "references", "notes", "platform", "warehouse", "ml", "search", "ai", "notify"}


@pytest.fixture(scope="module")
def graph():
    return defs.get_repository_def().asset_graph


def test_every_asset_is_fully_declared(graph):
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert len(key.path) == 2 and key.path[0] in SCHEMAS, f"{name}: keys are [schema, table]"
        assert node.group_name in GROUPS, f"{name}: group {node.group_name!r}"
        assert node.kinds, f"{name}: no kind"
        assert node.description and len(node.description) > 20, f"{name}: no real description"
        assert isinstance(node.freshness_policy, dg.FreshnessPolicy), f"{name}: no freshness policy"
        assert not isinstance(node.freshness_policy, dg.LegacyFreshnessPolicy)


def test_lineage_runs_from_the_loader_to_the_gold_facts(graph):
    key = dg.AssetKey
    assert graph.get(key(["staging", "stg_notes"])).parent_keys == {key(["raw", "notes"])}
    assert key(["staging", "stg_notes"]) in graph.get(key(["marts", "fact_notes_activity"])).parent_keys
    assert key(["staging", "stg_notes"]) in graph.get(key(["marts", "dim_courses"])).parent_keys
    # raw assets are real materialisable assets (the dlt loaders), not external stubs.
    assert graph.get(key(["raw", "notes"])).is_materializable


def test_loaders_and_dbt_run_in_pools(graph):
    pools = {
        node.key.to_user_string(): node.pools
        for node in graph.asset_nodes
        if node.is_materializable
    }
    assert all(pools.values()), {k: v for k, v in pools.items() if not v}


def _freshness(policy) -> dict | None:
    if policy is None:
        return None
    if isinstance(policy, dg.FreshnessPolicy) and getattr(policy, "deadline_cron", None):
        return {"cron": policy.deadline_cron, "lower_bound_s": policy.lower_bound_delta.total_seconds(),
                "timezone": policy.timezone}
    return {"fail_s": policy.fail_window.to_timedelta().total_seconds(),
            "warn_s": policy.warn_window.to_timedelta().total_seconds() if policy.warn_window else None}


def _shape(graph) -> dict:
    repo = defs.get_repository_def()
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
            "blocking_checks": sorted(c.name for c in node.check_keys if graph.get_check_spec(c).blocking),
            "freshness": _freshness(node.freshness_policy),
            "automation": node.automation_condition.get_label() or type(node.automation_condition).__name__
            if node.automation_condition else None,
            "pools": sorted(node.pools or []),
            "partitioned": type(node.partitions_def).__name__ if node.partitions_def else None,
        }
    schedules = {
        s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name,
                 "default_status": s.default_status.value}
        for s in repo.schedule_defs
    }
    sensors = {
        s.name: {"type": type(s).__name__, "default_status": s.default_status.value,
                 "minimum_interval_seconds": s.minimum_interval_seconds}
        for s in repo.sensor_defs
    }
    return {"assets": assets, "jobs": sorted(j.name for j in repo.get_all_jobs()), "schedules": schedules,
            "sensors": sensors}


def test_graph_snapshot(graph, snapshot):
    """The whole graph's shape (assets, groups, kinds, deps, checks, freshness, automation, jobs,
    schedules with their crons and timezones, sensors). A deliberate change is recorded with
    `python -m pytest tests/test_definitions.py --snapshot-update`; any other change fails here."""
    from syrupy.extensions.json import JSONSnapshotExtension

    assert _shape(graph) == snapshot.use_extension(JSONSnapshotExtension)
