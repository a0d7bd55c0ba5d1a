import dagster as dg

from .assets import raw_notes

defs = dg.Definitions(assets=[raw_notes])
