import dagster as dg

from .assets import embedding_sets, search_chunks
from .checks import CHECKS

defs = dg.Definitions(assets=[search_chunks, embedding_sets], asset_checks=CHECKS)
