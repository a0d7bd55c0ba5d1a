"""Split an asset selection into the runs that materialise it, in order.

A Dagster run has one partitioning: `studentops materialize` of the whole graph (unpartitioned
loaders and dbt models, the weekly `ml/student_features`, unpartitioned models downstream of it)
needs several. Each asset gets a stage: the most partitioning changes on any path to it from the
selection's roots. Assets of one stage and one partitioning form a run; stages run in order, so
everything a run reads was built by an earlier one. A partitioned run covers every partition of its
assets as ONE run over the whole key range (their BackfillPolicy is single-run), not one run per week.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class PlannedRun:
    stage: int
    keys: tuple[dg.AssetKey, ...]
    partitions_def: dg.PartitionsDefinition | None = None
    partition_keys: tuple[str, ...] = ()

    @property
    def tags(self) -> dict[str, str]:
        if not self.partition_keys:
            return {}
        return {RANGE_START: self.partition_keys[0], RANGE_END: self.partition_keys[-1]}

    def describe(self) -> str:
        what = f"{len(self.keys)} asset{'s' if len(self.keys) != 1 else ''}"
        if self.partition_keys:
            what += (f" x {len(self.partition_keys)} partitions "
                     f"({self.partition_keys[0]} .. {self.partition_keys[-1]}, one run)")
        return what


def _same(a: dg.PartitionsDefinition | None, b: dg.PartitionsDefinition | None) -> bool:
    return a == b


def plan_runs(asset_graph, keys: set[dg.AssetKey]) -> list[PlannedRun]:
    """The runs for `keys`, upstream first. Partitioned groups with no partition yet are left out."""
    keys = set(keys)
    part = {k: asset_graph.get(k).partitions_def for k in keys}
    stage: dict[dg.AssetKey, int] = {}
    for level in asset_graph.toposorted_asset_keys_by_level:
        for key in level:
            if key not in keys:
                continue
            parents = [p for p in asset_graph.get(key).parent_keys if p in keys]
            stage[key] = max((stage[p] + (0 if _same(part[p], part[key]) else 1) for p in parents), default=0)
    groups: dict[tuple[int, int], list[dg.AssetKey]] = {}
    defs_seen: list[dg.PartitionsDefinition | None] = []
    for key in keys:
        index = next((i for i, d in enumerate(defs_seen) if _same(d, part[key])), None)
        if index is None:
            defs_seen.append(part[key])
            index = len(defs_seen) - 1
        groups.setdefault((stage[key], index), []).append(key)
    runs = []
    for (s, index), members in sorted(groups.items(), key=lambda item: item[0]):
        pdef = defs_seen[index]
        partition_keys: tuple[str, ...] = ()
        if pdef is not None:
            partition_keys = tuple(pdef.get_partition_keys())
            if not partition_keys:
                continue
        runs.append(PlannedRun(s, tuple(sorted(members)), pdef, partition_keys))
    return runs
