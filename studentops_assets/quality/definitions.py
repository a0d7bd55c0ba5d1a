import dagster as dg

from .checks import GOLD_SUITE_CHECKS

# Checks only: the tables they guard are the dbt models of studentops_assets.warehouse.
defs = dg.Definitions(asset_checks=GOLD_SUITE_CHECKS)
