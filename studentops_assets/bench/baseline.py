"""The yardstick: each platform table piped with COPY from the platform database into the warehouse.

Postgres' COPY out of one server straight into COPY in on the other, both streaming through one OS
pipe, with the source's own column types: the least work any loader can do to move these rows.
"""

from __future__ import annotations

import os
import threading
import time

from psycopg2 import sql

from resources.postgres_server import connect
from studentops_assets.platform.tables import PLATFORM_TABLES

BASELINE_SCHEMA = "bench_copy"


def _columns(cur, table: str) -> list[tuple[str, str]]:
    cur.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum",
        (f"public.{table}",),
    )
    return cur.fetchall()


def _pipe_table(source, target, table: str) -> int:
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with source.cursor() as cur:
                cur.copy_expert(sql.SQL("copy public.{} to stdout with (format csv)").format(sql.Identifier(table)), writer)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            failure.append(exc)
        finally:
            writer.close()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        with target.cursor() as cur:
            cur.copy_expert(
                sql.SQL("copy {}.{} from stdin with (format csv)").format(
                    sql.Identifier(BASELINE_SCHEMA), sql.Identifier(table)
                ),
                reader,
            )
            rows = cur.rowcount
    finally:
        producer.join()
        reader.close()
    if failure:
        raise failure[0]
    return rows


def copy_platform(platform_url: str, warehouse_url: str) -> tuple[int, float]:
    """(rows, seconds) for COPYing every platform table into a fresh `bench_copy` schema. Creating
    the empty tables is not timed; the COPYs and their commits are."""
    source, target = connect(platform_url), connect(warehouse_url)
    try:
        with target, target.cursor() as cur, source.cursor() as src:
            cur.execute(sql.SQL("drop schema if exists {} cascade; create schema {}").format(
                sql.Identifier(BASELINE_SCHEMA), sql.Identifier(BASELINE_SCHEMA)))
            for table in PLATFORM_TABLES:
                columns = sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in _columns(src, table.name)
                )
                cur.execute(sql.SQL("create table {}.{} ({})").format(
                    sql.Identifier(BASELINE_SCHEMA), sql.Identifier(table.name), columns))
        source.commit()
        started = time.monotonic()
        rows = 0
        for table in PLATFORM_TABLES:
            rows += _pipe_table(source, target, table.name)
            target.commit()
        return rows, time.monotonic() - started
    finally:
        source.close()
        target.close()


def drop_baseline(warehouse_url: str) -> None:
    conn = connect(warehouse_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(BASELINE_SCHEMA)))
    finally:
        conn.close()
