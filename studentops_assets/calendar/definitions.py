import dagster as dg

from studentops_assets.core.checks import quarantine_rate_check

from . import gcal_source, ical_source
from .assets import raw_gcal_events, raw_ical_events

defs = dg.Definitions(
    assets=[raw_ical_events, raw_gcal_events],
    asset_checks=[
        quarantine_rate_check(dg.AssetKey(["raw", "ical_events"]), ical_source.SOURCE, "ical_events"),
        quarantine_rate_check(dg.AssetKey(["raw", "gcal_events"]), gcal_source.SOURCE, "gcal_events"),
    ],
)
