import dagster as dg

from .assets import warehouse_dbt_layers


def warehouse_definitions() -> dg.Definitions:
    """Built when the code location loads: the dbt assets come from the parsed manifest."""
    return dg.Definitions(assets=warehouse_dbt_layers())
