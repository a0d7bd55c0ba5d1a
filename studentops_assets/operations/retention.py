"""Bounded instance storage: purge runs (and their event logs) older than a horizon.

Dagster's Postgres `event_logs` and `runs` tables grow without end (dagster.yaml's `retention:` only
covers schedule, sensor and automation ticks). Deleting a run through `DagsterInstance.delete_run`
removes the run and every event it wrote; the asset index follows. What the UI and the automation
need to stay correct is kept whatever its age:

- every run that is not finished (queued, starting, running, cancelling);
- the run holding the latest materialisation of every asset, and of every partition of a
  partitioned asset (otherwise partitions would show as missing and be rebuilt);
- the run holding the latest observation of every asset;
- the run holding the latest execution of every asset check (its pass/fail stays visible).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import RunsFilter

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@dataclass(frozen=True)
class RetentionResult:
    older_than: dt.datetime
    examined: int
    deleted: tuple[str, ...]
    kept_as_latest: tuple[str, ...]


def _latest_event_runs(instance: dg.DagsterInstance, asset_keys: Iterable[dg.AssetKey]) -> set[str]:
    keep: set[str] = set()
    for key in asset_keys:
        for event_type in (DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION):
            by_partition = instance.event_log_storage.get_latest_storage_id_by_partition(key, event_type)
            if by_partition:
                ids = sorted(set(by_partition.values()))
                fetch = (instance.fetch_materializations if event_type == DagsterEventType.ASSET_MATERIALIZATION
                         else instance.fetch_observations)
                records = fetch(dg.AssetRecordsFilter(asset_key=key, storage_ids=ids), limit=len(ids)).records
                keep |= {record.run_id for record in records}
        latest = instance.get_latest_materialization_event(key)
        if latest is not None:
            keep.add(latest.run_id)
    return keep


def _latest_check_runs(instance: dg.DagsterInstance, check_keys: Sequence[dg.AssetCheckKey]) -> set[str]:
    if not check_keys:
        return set()
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(check_keys))
    return {record.run_id for record in latest.values()}


def purge_instance_history(
    instance: dg.DagsterInstance,
    older_than: dt.datetime,
    asset_keys: Iterable[dg.AssetKey] = (),
    check_keys: Sequence[dg.AssetCheckKey] = (),
    batch: int = 500,
) -> RetentionResult:
    """Delete finished runs created before `older_than` that hold no latest result (see module doc)."""
    keys = set(asset_keys) | set(instance.all_asset_keys())
    protected = _latest_event_runs(instance, keys) | _latest_check_runs(instance, check_keys)
    deleted: list[str] = []
    kept: list[str] = []
    examined = 0
    cursor = None
    while True:
        records = instance.get_run_records(
            filters=RunsFilter(created_before=older_than, statuses=FINISHED), limit=batch, cursor=cursor,
        )
        if not records:
            break
        for record in records:
            examined += 1
            run_id = record.dagster_run.run_id
            if run_id in protected:
                kept.append(run_id)
            else:
                instance.delete_run(run_id)
                deleted.append(run_id)
        cursor = records[-1].dagster_run.run_id
    return RetentionResult(older_than, examined, tuple(deleted), tuple(kept))
