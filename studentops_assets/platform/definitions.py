import dagster as dg

from .assets import raw_platform
from .contract import source_contract_checks

defs = dg.Definitions(assets=[raw_platform], asset_checks=source_contract_checks())
