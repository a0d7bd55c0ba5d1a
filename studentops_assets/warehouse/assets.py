"""The dbt models (staging views, gold dimensions and facts) as Dagster assets; dbt tests become checks."""


import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from resources.warehouse import WarehouseResource

from .project import warehouse_dbt_project
from .translator import WarehouseDbtTranslator


@dbt_assets(
    manifest=warehouse_dbt_project().manifest_path,
    project=warehouse_dbt_project(),
    dagster_dbt_translator=WarehouseDbtTranslator(),
    name="warehouse_dbt_models",
    pool="dbt_warehouse",
)
def warehouse_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    # dbt/profiles.yml reads the connection from the environment; the dbt subprocess inherits it.
    os.environ.update(warehouse.dbt_env())
    os.environ["STUDENTOPS_TIMEZONE"] = warehouse.settings().timezone
    yield from dbt.cli(["build"], context=context).stream().fetch_row_counts()
