"""Maps dbt nodes to StudentOps asset keys: `[schema, name]`, sources to the raw assets' keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject


def describe_test(test: Mapping[str, Any]) -> str:
    """What a dbt test checks, in words: its own `description` (or meta.description) when it has one,
    else one written from the generic test and its arguments. dagster-dbt only reads meta.description,
    so without this every dbt test showed "No description provided" in the UI."""
    own = test.get("description") or (test.get("meta") or {}).get("description") \
        or ((test.get("config") or {}).get("meta") or {}).get("description")
    if own:
        return own
    metadata = test.get("test_metadata") or {}
    kwargs = dict(metadata.get("kwargs") or {})
    kwargs.update(kwargs.pop("arguments", None) or {})
    column = kwargs.get("column_name") or test.get("column_name")
    name = metadata.get("name")
    if name == "unique":
        return f"Every value of {column} is unique (no duplicate keys)."
    if name == "not_null":
        return f"{column} is never null."
    if name == "accepted_values":
        values = ", ".join(str(v) for v in kwargs.get("values") or [])
        return f"{column} only takes the accepted values: {values}."
    if name == "relationships":
        target = str(kwargs.get("to", "")).replace("ref(", "").replace(")", "").strip("'\"")
        return f"Every non-null {column} exists as {kwargs.get('field')} in {target} (no orphan rows)."
    if name:
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k != "model" and not str(v).startswith("{{"))
        return f"dbt test {name}" + (f" on {column}" if column else "") + (f" ({args})" if args else "") + "."
    return f"Singular dbt test {test.get('name')}: the query in {test.get('original_file_path')} returns no rows."


class WarehouseDbtTranslator(DagsterDbtTranslator):
    def __init__(self):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_code_references=True))

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Optional[DbtProject]
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            # Sources carry meta.dagster.asset_key = raw/<table>, the dlt asset's key, so lineage
            # runs unbroken from the loader to the gold facts.
            return spec
        schema = props.get("config", {}).get("schema") or props["schema"]
        meta = {**props.get("meta", {}), **props.get("config", {}).get("meta", {})}
        materialized = props.get("config", {}).get("materialized", "view")
        return spec.replace_attributes(
            key=dg.AssetKey([schema, props["name"]]),
            group_name=meta.get("dagster_group", "warehouse"),
            kinds={"dbt", "postgres", materialized},
        ).merge_attributes(metadata={"dagster/table_name": f"warehouse.{schema}.{props['name']}"})

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        # Asset specs are mapped in get_asset_spec; checks have no such hook, and dagster-dbt leaves
        # their description empty unless a test sets meta.description: fill it in here.
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))
