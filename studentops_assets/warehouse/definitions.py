import dagster as dg

from .assets import warehouse_dbt_models

defs = dg.Definitions(assets=[warehouse_dbt_models])
