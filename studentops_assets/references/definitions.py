import dagster as dg

from studentops_assets.core.checks import quarantine_rate_check

from .assets import raw_bibtex_entries, raw_citation_cache, raw_ris_entries
from .citation_cache import SOURCE as CACHE_SOURCE
from .sources import BIBTEX_SOURCE, RIS_SOURCE

defs = dg.Definitions(
    assets=[raw_bibtex_entries, raw_ris_entries, raw_citation_cache],
    asset_checks=[
        quarantine_rate_check(dg.AssetKey(["raw", "bibtex_entries"]), BIBTEX_SOURCE, "bibtex_entries"),
        quarantine_rate_check(dg.AssetKey(["raw", "ris_entries"]), RIS_SOURCE, "ris_entries"),
        quarantine_rate_check(dg.AssetKey(["raw", "citation_cache"]), CACHE_SOURCE, "citation_cache"),
    ],
)
