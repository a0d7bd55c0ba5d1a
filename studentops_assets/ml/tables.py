"""Reading warehouse queries into polars and writing polars frames to `ml.*` tables.

Writes go through COPY (psycopg2 `copy_expert`): a frame of a few hundred thousand rows loads in well
under a second, where row-wise INSERTs would take minutes (see STACK.md's load measurements).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import polars as pl

_PG_TYPES = {
    pl.Utf8: "text",
    pl.String: "text",
    pl.Int8: "integer",
    pl.Int16: "integer",
    pl.Int32: "integer",
    pl.Int64: "bigint",
    pl.UInt32: "bigint",
    pl.UInt64: "bigint",
    pl.Float32: "double precision",
    pl.Float64: "double precision",
    pl.Boolean: "boolean",
    pl.Date: "date",
}


def read_frame(conn, sql: str, params: Sequence | dict | None = None, schema: dict | None = None) -> pl.DataFrame:
    """Run `sql` and return its rows as a polars frame (column names from the cursor)."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        columns = [d.name for d in cur.description]
        rows = cur.fetchall()
    if schema is not None:
        return pl.DataFrame(rows, schema=schema, orient="row")
    if not rows:
        return pl.DataFrame({c: [] for c in columns})
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)


def pg_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamptz" if dtype.time_zone else "timestamp"
    for key, name in _PG_TYPES.items():
        if dtype == key:
            return name
    return "text"


def ensure_schema(conn, schema: str = "ml") -> None:
    with conn.cursor() as cur:
        cur.execute(f'create schema if not exists "{schema}"')


def copy_frame(conn, table: str, frame: pl.DataFrame) -> None:
    """COPY `frame` into the existing `table` (qualified name), columns by name."""
    if frame.height == 0:
        return
    buffer = io.BytesIO()
    out = frame
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_zone:
            # ISO with an explicit offset, so Postgres never reinterprets it in the session's zone.
            out = out.with_columns(pl.col(name).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.f+00"))
        elif isinstance(dtype, (pl.List, pl.Struct)):
            raise TypeError(f"column {name}: serialise nested values to JSON text before copying")
    out.write_csv(buffer, include_header=False, null_value="")
    buffer.seek(0)
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    with conn.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)


def replace_table(conn, table: str, frame: pl.DataFrame, overrides: dict[str, str] | None = None) -> None:
    """Create or replace `table` with exactly `frame`'s rows, in the caller's transaction."""
    overrides = overrides or {}
    cols = ", ".join(f'"{n}" {overrides.get(n, pg_type(t))}' for n, t in frame.schema.items())
    with conn.cursor() as cur:
        cur.execute(f"drop table if exists {table}")
        cur.execute(f"create table {table} ({cols})")
    copy_frame(conn, table, frame)
