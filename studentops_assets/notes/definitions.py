import dagster as dg

from studentops_assets.core.checks import quarantine_rate_check

from .assets import raw_notes
from .source import SOURCE

defs = dg.Definitions(
    assets=[raw_notes],
    asset_checks=[quarantine_rate_check(dg.AssetKey(["raw", "notes"]), SOURCE, "notes")],
)
