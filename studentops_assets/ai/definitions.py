import dagster as dg

from .course_weekly import course_weekly_summaries
from .note_summaries import note_summaries

defs = dg.Definitions(assets=[note_summaries, course_weekly_summaries])
