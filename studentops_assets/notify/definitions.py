import dagster as dg

from .assets import daily_digests, staff_digests, weekly_digests

defs = dg.Definitions(assets=[daily_digests, weekly_digests, staff_digests])
