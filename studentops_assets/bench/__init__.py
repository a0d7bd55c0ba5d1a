"""`studentops bench`: what the platform replication costs, against a plain COPY of the same data."""

from .runner import run_bench

__all__ = ["run_bench"]
