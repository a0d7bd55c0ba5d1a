"""The dbt graph cut into layers at the gold tables that a Great Expectations suite guards.

A blocking asset check stops what runs *after* it in the run, never what runs in the same step. With
one `dbt build` step, the GX suites could only run once every model was built, so a broken
`fact_material_views` still fed `fact_study_sessions` and `fact_daily_engagement` in the same run.
Each layer is its own `@dbt_assets` step: a model whose parent carries a suite lands one layer after
that parent, so the parent's suite runs (and, failing, stops it) in between. Layers are computed from
the manifest, so a new model or suite never needs a hand-kept list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

BUILDABLE = ("model", "snapshot", "seed")


def node_layers(manifest: Mapping, guarded: Iterable[str]) -> dict[str, int]:
    """unique_id -> layer: 0 for nodes with no guarded ancestor on their path, else one more than
    the deepest guarded parent's layer (a guarded node's own children move up)."""
    guarded = set(guarded)
    nodes = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] in BUILDABLE}
    layers: dict[str, int] = {}

    def layer(uid: str, trail: frozenset = frozenset()) -> int:
        if uid in layers:
            return layers[uid]
        if uid in trail:
            raise ValueError(f"dbt graph has a cycle through {uid}")
        parents = [p for p in nodes[uid]["depends_on"]["nodes"] if p in nodes]
        value = max((layer(p, trail | {uid}) + (nodes[p]["name"] in guarded) for p in parents), default=0)
        layers[uid] = value
        return value

    for uid in nodes:
        layer(uid)
    return layers


@cache
def selections(manifest_path: Path, guarded: frozenset[str]) -> tuple[str, ...]:
    """One dbt selection string per layer, in build order."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    layers = node_layers(manifest, guarded)
    names = [[] for _ in range(max(layers.values(), default=0) + 1)]
    for uid, value in sorted(layers.items()):
        names[value].append(manifest["nodes"][uid]["name"])
    return tuple(" ".join(sorted(layer)) for layer in names if layer)
