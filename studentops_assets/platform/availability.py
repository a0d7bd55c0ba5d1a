"""Whether a platform database is configured, and the empty replicas the warehouse needs without one.

StudentOps is useful on study sources alone (one student with a vault and a calendar). Without a
platform database, `raw.platform_*` exist empty, with the contract's columns, so the dbt models build
and the platform facts are simply empty; with one, dlt loads into the same tables.
"""

from __future__ import annotations

import os

import psycopg2
from psycopg2 import sql

from resources.postgres_server import PgParams, ServerUrls

from .contract import load_contract
from .tables import PLATFORM_TABLES

# How dlt's postgres destination stores each source type (so a later real load finds the columns
# it would have created itself).
_DLT_TYPES = {
    "uuid": "varchar",
    "text": "varchar",
    "integer": "bigint",
    "bigint": "bigint",
    "boolean": "boolean",
    "date": "date",
    "jsonb": "jsonb",
    "numeric": "numeric",
    "timestamp with time zone": "timestamp with time zone",
}


def platform_configured(urls: ServerUrls) -> tuple[bool, str]:
    """(configured, why). An explicit STUDENTOPS_PLATFORM_URL is always configured (and must work)."""
    if os.environ.get("STUDENTOPS_PLATFORM_URL"):
        return True, "STUDENTOPS_PLATFORM_URL"
    name = PgParams.from_url(urls.platform).database
    # pg_database is cluster-wide: the warehouse connection sees the platform database's name.
    conn = psycopg2.connect(urls.warehouse, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            exists = cur.fetchone() is not None
    finally:
        conn.close()
    if exists:
        return True, f"database {name!r} on the warehouse server"
    return False, f"no STUDENTOPS_PLATFORM_URL and no database {name!r} on the warehouse server (run `studentops demo`)"


def ensure_empty_replicas(conn) -> list[str]:
    """Create missing raw.platform_* tables from the source contract; returns the ones created."""
    contract = load_contract()
    created = []
    with conn, conn.cursor() as cur:
        for table in PLATFORM_TABLES:
            cur.execute("select to_regclass(%s)", (f"raw.{table.raw_table}",))
            if cur.fetchone()[0] is not None:
                continue
            columns = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_DLT_TYPES.get(kind, "varchar")))
                for name, kind in contract[table.name].items()
            )
            cur.execute(sql.SQL("create table raw.{} ({})").format(sql.Identifier(table.raw_table), columns))
            created.append(table.raw_table)
    return created


def empty_replicas(conn, tables) -> set[str]:
    """The raw replicas among `tables` that do not exist yet or hold no row (a first sync)."""
    empty = set()
    with conn.cursor() as cur:
        for table in tables:
            cur.execute("select to_regclass(%s) is not null", (f"raw.{table.raw_table}",))
            if not cur.fetchone()[0]:
                empty.add(table.raw_table)
                continue
            cur.execute(sql.SQL("select not exists (select 1 from raw.{})").format(sql.Identifier(table.raw_table)))
            if cur.fetchone()[0]:
                empty.add(table.raw_table)
    return empty
