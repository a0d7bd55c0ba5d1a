import dagster as dg

from studentops_assets.core.checks import quarantine_rate_check

from .assets import raw_zotero_items
from .source import SOURCE, TABLE

defs = dg.Definitions(
    assets=[raw_zotero_items],
    asset_checks=[quarantine_rate_check(dg.AssetKey(["raw", TABLE]), SOURCE, TABLE)],
)
