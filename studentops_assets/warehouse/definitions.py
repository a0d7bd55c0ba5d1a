import dagster as dg

from .assets import warehouse_dbt_layers

defs = dg.Definitions(assets=warehouse_dbt_layers)
