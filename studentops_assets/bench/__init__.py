"""`studentops bench`: the whole graph through Dagster, stage by stage, against its yardsticks."""

from .report import print_report
from .runner import STAGE_NAMES, run_bench

__all__ = ["STAGE_NAMES", "print_report", "run_bench"]
