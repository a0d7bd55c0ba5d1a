"""Putting the platform replicas back to "never synced", and checking that they are exact copies."""

from __future__ import annotations

import shutil
from pathlib import Path

from psycopg2 import sql

from resources.postgres_server import connect
from studentops_assets.core.dlt_support import RAW_DATASET
from studentops_assets.platform.contract import load_contract
from studentops_assets.platform.source import platform_source
from studentops_assets.platform.tables import PLATFORM_TABLES

PIPELINE = "studentops_platform"


def reset_platform_replicas(warehouse_url: str, home: Path) -> None:
    """Drop raw.platform_* and every trace dlt keeps of the platform pipeline (its working folder, its
    state, schema and load rows in `raw`), so the next run is a first sync again."""
    schema_name = platform_source("postgresql://definition-only@127.0.0.1/platform").name
    conn = connect(warehouse_url)
    try:
        with conn, conn.cursor() as cur:
            for table in PLATFORM_TABLES:
                cur.execute(sql.SQL("drop table if exists {}.{}").format(sql.Identifier(RAW_DATASET), sql.Identifier(table.raw_table)))
            for bookkeeping, column, value in (
                ("_dlt_pipeline_state", "pipeline_name", PIPELINE),
                ("_dlt_version", "schema_name", schema_name),
                ("_dlt_loads", "schema_name", schema_name),
            ):
                cur.execute("select to_regclass(%s) is not null", (f"{RAW_DATASET}.{bookkeeping}",))
                if cur.fetchone()[0]:
                    cur.execute(
                        sql.SQL("delete from {}.{} where {} = %s").format(
                            sql.Identifier(RAW_DATASET), sql.Identifier(bookkeeping), sql.Identifier(column)
                        ),
                        (value,),
                    )
    finally:
        conn.close()
    shutil.rmtree(home / "dlt" / PIPELINE, ignore_errors=True)


def _digest(url: str, relation: sql.Composable, columns: list[str]) -> tuple[int, str]:
    projection = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
    query = sql.SQL(
        "select count(*), md5(coalesce(string_agg(r::text, E'\\n' order by r::text), '')) "
        "from (select row({}) as r from {}) s"
    ).format(projection, relation)
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            count, digest = cur.fetchone()
    finally:
        conn.close()
    return int(count), digest


def replica_differences(platform_url: str, warehouse_url: str) -> list[str]:
    """The platform tables whose replica is not an exact copy (rows and every contract column)."""
    contract = load_contract()
    different = []
    for table in PLATFORM_TABLES:
        columns = list(contract[table.name])
        source = _digest(platform_url, sql.SQL("public.{}").format(sql.Identifier(table.name)), columns)
        replica = _digest(
            warehouse_url, sql.SQL("{}.{}").format(sql.Identifier(RAW_DATASET), sql.Identifier(table.raw_table)), columns
        )
        if source != replica:
            different.append(f"{table.name} (source {source[0]:,} rows, replica {replica[0]:,})")
    return different
