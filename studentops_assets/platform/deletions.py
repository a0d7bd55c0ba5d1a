"""Deletion detection for replicated tables keyed by one id (see tables.py for why dlt cannot)."""

from __future__ import annotations

import io

from psycopg2 import sql

from .tables import PlatformTable


def remove_deleted_rows(platform_conn, warehouse_conn, table: PlatformTable, schema: str = "public") -> int:
    """Delete rows of raw.platform_<table> whose id no longer exists at the source. Returns the count.

    The source's ids stream over COPY into a temp table on the warehouse side: one pass each way,
    no per-row round trips, and no transaction held open on the platform database.
    """
    (key,) = table.primary_key
    buffer = io.StringIO()
    with platform_conn.cursor() as cur:
        cur.copy_expert(
            sql.SQL("copy (select {}::text from {}.{}) to stdout").format(
                sql.Identifier(key), sql.Identifier(schema), sql.Identifier(table.name)
            ),
            buffer,
        )
    buffer.seek(0)
    with warehouse_conn, warehouse_conn.cursor() as cur:
        cur.execute("create temp table source_ids (id text primary key) on commit drop")
        cur.copy_expert("copy source_ids from stdin", buffer)
        cur.execute(
            sql.SQL("delete from raw.{} as r where not exists (select 1 from source_ids s where s.id = r.{}::text)").format(
                sql.Identifier(table.raw_table), sql.Identifier(key)
            )
        )
        return cur.rowcount
