"""The whole asset graph: every asset declared properly, lineage continuous, a snapshot of its shape."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from studentops_assets.definitions import defs

SNAPSHOT = Path(__file__).with_name("snapshots") / "asset_graph.json"
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


def _shape(graph) -> dict:
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
        }
    return {"assets": assets, "jobs": sorted(j.name for j in defs.get_repository_def().get_all_jobs())}


def test_graph_snapshot(graph):
    """Changes to the graph's shape are deliberate: STUDENTOPS_UPDATE_SNAPSHOTS=1 rewrites the file."""
    shape = _shape(graph)
    if os.environ.get("STUDENTOPS_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(shape, indent=2, sort_keys=True) + "\n")
    assert shape == json.loads(SNAPSHOT.read_text())
