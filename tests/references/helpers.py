"""Shared helpers of the references tests: materialising for real and reading what landed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "references"


def materialize(assets: list, warehouse, instance: dg.DagsterInstance | None = None,
                **resources: Any) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        assets,
        resources={"warehouse": warehouse, "dlt": DagsterDltResource(), **resources},
        instance=instance or dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result


def metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    (event,) = result.asset_materializations_for_node(node)
    return {k: getattr(v, "value", v) for k, v in event.metadata.items()}


def copy_fixture(name: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / name, target)
    return target


def snapshot(home, schemas: tuple[str, ...] = ("raw", "meta")) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every table in `schemas` (dlt's own bookkeeping and meta.quarantine with
    its first_seen/last_seen included)."""
    out = {}
    for schema, table in home.query(
        "select table_schema, table_name from information_schema.tables where table_schema = any(%s) "
        "order by 1, 2", (list(schemas),)
    ):
        (count, digest), = home.query(
            "select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) "
            f'from "{schema}"."{table}" t'
        )
        out[f"{schema}.{table}"] = (count, digest)
    return out
