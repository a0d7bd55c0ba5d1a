"""dlt's `sql_database` source over the platform database, tuned for bulk: arrow batches, COPY loads."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import dlt

# Imported here, before any extraction thread starts: parallel resources importing pyarrow (or
# pandas, which dlt's incremental step uses on arrow batches) for the first time at once fail with
# "partially initialized module".
import dlt.common.libs.pandas  # noqa: F401
import dlt.common.libs.pyarrow  # noqa: F401
from dlt.sources.sql_database import sql_database

from studentops_assets.core.urls import sqlalchemy_psycopg2_url

from .load_files import AfterIncremental, CsvLoadFiles
from .tables import PLATFORM_TABLES, PlatformTable

SOURCE = "platform"
# Arrow batches of this many rows: large enough that per-batch overhead vanishes, small enough that
# a wide table (materials.content) stays well inside memory.
CHUNK_SIZE = 100_000


# Both backends hand dlt arrow tables. Measured on the demo platform (218k rows, 14 tables, this 2-core
# machine, uncompressed csv + COPY): connectorx 2.7 s, pyarrow 6.0 s, plain COPY 0.8 s. connectorx reads
# Postgres' binary protocol straight into arrow; the pyarrow backend goes through SQLAlchemy rows first.
BACKENDS = ("connectorx", "pyarrow")
DEFAULT_BACKEND = "connectorx"


def _permissive_columns(table) -> None:
    """Raw replicas accept what the source sends; constraints are enforced in staging (dbt tests).
    A column dropped at the source then loads as NULLs instead of failing the load, and the
    source_contract check reports it, blocking dbt, with the old rows still in place."""
    for column in table.columns:
        column.nullable = True


def platform_source(
    credentials: str,
    tables: Sequence[PlatformTable] = PLATFORM_TABLES,
    schema: str = "public",
    backend: str = DEFAULT_BACKEND,
    empty_replicas: Collection[str] = (),
    load_files_dir: Path | None = None,
):
    """One dlt resource per platform table, written to `raw.platform_<table>`.

    Without `load_files_dir` (definition time) reflection is deferred to extraction, so building the
    source never connects. With it (a run), the tables are reflected now, in one batched pass, each
    arrow batch is written as a csv load file in that directory (load_files.py says why), and the
    tables are read in parallel threads: connectorx and the csv writer release the GIL, and while one
    table waits on Postgres another is being written (1.08M rows: extract 3.0 s -> 2.2 s).

    Tables named in `empty_replicas` (raw tables with no rows yet) are appended instead of merged on
    this run: there is nothing to merge with, and a merge would COPY every row into a staging table
    and then insert it again (measured: load 2.6 s -> 1.1 s for the 1.08M-row first sync).
    """
    if backend not in BACKENDS:
        raise ValueError(f"platform backend must be one of {BACKENDS}, got {backend!r}")
    backend_kwargs = {}
    if backend == "connectorx":
        # SQLAlchemy (for reflection) gets the psycopg2 URL; connectorx its own plain postgresql:// one.
        # A stream of CHUNK_SIZE-row batches instead of one arrow table per query: memory stays
        # bounded on a large table, at no measurable cost (1.08M rows: 3.0 s either way).
        backend_kwargs = {"conn": credentials, "return_type": "arrow_stream"}
    source = sql_database(
        credentials=sqlalchemy_psycopg2_url(credentials),
        schema=schema,
        table_names=[t.name for t in tables],
        backend=backend,
        backend_kwargs=backend_kwargs,
        table_adapter_callback=_permissive_columns,
        reflection_level="full_with_precision",
        defer_table_reflect=load_files_dir is None,
        chunk_size=CHUNK_SIZE,
    )
    to_load_files = CsvLoadFiles(load_files_dir) if load_files_dir is not None else None
    for table in tables:
        hints: dict = {"table_name": table.raw_table, "primary_key": list(table.primary_key)}
        if table.raw_table in empty_replicas and table.disposition != "replace":
            hints["write_disposition"] = "append"
        elif table.disposition == "merge":
            hints["write_disposition"] = {"disposition": "merge", "strategy": "delete-insert"}
        elif table.disposition == "append":
            # Append-only at the source; "insert-only" appends rows whose key is new, so the lag
            # window re-read on every run never duplicates a ledger entry.
            hints["write_disposition"] = {"disposition": "merge", "strategy": "insert-only"}
        else:
            hints["write_disposition"] = table.disposition
        if table.cursor:
            hints["incremental"] = dlt.sources.incremental(
                table.cursor, lag=table.lag_seconds or None, on_cursor_value_missing="include"
            )
        resource = source.resources[table.name]
        resource.apply_hints(**hints)
        if to_load_files is not None:
            # After the incremental step: it filters the rows and advances the cursor, then the
            # rows it let through become csv files.
            resource.add_step(AfterIncremental(to_load_files))
    return source.parallelize() if to_load_files is not None else source
