"""Deterministic demo data: a populated study platform database plus the study sources (notes vault,
calendars, reference exports) of a few configured students. Used by `studentops demo`."""

from .generate import DemoSummary, generate_demo

__all__ = ["DemoSummary", "generate_demo"]
