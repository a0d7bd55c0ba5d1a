"""Maps dbt nodes to StudentOps asset keys: `[schema, name]`, sources to the raw assets' keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject


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
