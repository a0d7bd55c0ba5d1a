"""Deletion detection for replicated tables keyed by one id (see tables.py for why dlt cannot).

Streaming every id of the source to the warehouse costs time in proportion to the table's history,
however little changed. Instead both sides are summarised with bucketed checksums, the technique of
data-diff and pg_comparator: every id is hashed into one of N buckets, and per bucket each side
reports how many ids it holds and the xor of their hashes. Only a bucket whose summary differs can
hold a deleted row, so only the ids of those buckets travel from the source. It is written here
(a few dozen lines) rather than taken as a dependency: we need one direction (ids the replica has
and the source no longer has) on one key, not a general table differ.

The summaries need `hashtextextended` (PostgreSQL 11+) and `bit_xor` (14+) on both servers; both
hash the id's text bytes, so the same id lands in the same bucket with the same hash on either side.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from psycopg2 import sql

from .tables import PlatformTable

# About one bucket per this many rows. Small buckets, because deletions come scattered: the bench's
# daily delta deletes 0.5% of user_tasks at random, ~10 rows in every bucket of 2,048, and with such
# buckets every one differed (measured: 256 of 256 at 4,000 students). With ~32 rows a bucket, a
# deletion costs ~32 ids streamed, and the summaries (one short line per bucket) stay a few MB at most.
ROWS_PER_BUCKET = 32
MAX_BUCKETS = 1 << 18
# When more than this share of the buckets differ, a bucket filter would still stream nearly every
# id while hashing each row twice more: every id is streamed plainly, as before the checksums.
WHOLE_STREAM_SHARE = 0.75


@dataclass(frozen=True)
class DeletionCheck:
    rows_deleted: int
    ids_compared: int  # ids streamed from the source this run
    buckets: int
    buckets_differing: int
    replica_rows: int  # exact row count of the replica after the deletions


def bucket_count(estimated_rows: float) -> int:
    """A power of two, so a bucket is the hash's low bits (`h & (n - 1)`), never negative."""
    buckets = 1
    while buckets < MAX_BUCKETS and buckets * ROWS_PER_BUCKET < estimated_rows:
        buckets *= 2
    return buckets


def remove_deleted_rows(platform_conn, warehouse_conn, table: PlatformTable, schema: str = "public") -> DeletionCheck:
    """Delete rows of raw.platform_<table> whose id no longer exists at the source.

    Rows the source has and the replica lacks are not this function's business (the next load
    brings them); they only make their bucket differ, and nothing of theirs is deleted.
    """
    (key,) = table.primary_key
    source = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table.name))
    replica = sql.SQL("raw.{}").format(sql.Identifier(table.raw_table))
    # Sized by the replica (the planner's estimate is enough here: it only sets the bucket size).
    buckets = bucket_count(_estimated_rows(warehouse_conn, replica))
    # Both summaries run at once, each as one statement in its own short transaction: the source is
    # never held in a transaction while the warehouse works.
    with ThreadPoolExecutor(max_workers=1) as pool:
        source_future = pool.submit(_bucket_summaries, platform_conn, source, key, buckets)
        replica_sums = _bucket_summaries(warehouse_conn, replica, key, buckets)
        source_sums = source_future.result()
    replica_rows = sum(count for count, _ in replica_sums.values())
    # A bucket the replica has no row in cannot hold a row to delete.
    differing = sorted(b for b, summary in replica_sums.items() if source_sums.get(b) != summary)
    if not differing:
        return DeletionCheck(0, 0, buckets, 0, replica_rows)
    only = None if len(differing) > WHOLE_STREAM_SHARE * buckets else differing
    ids = _stream_source_ids(platform_conn, source, key, buckets, only)
    deleted = _delete_missing(warehouse_conn, replica, key, ids, buckets, only)
    return DeletionCheck(deleted, ids.getvalue().count("\n"), buckets, len(differing), replica_rows - deleted)


def _bucket_of(key: str, buckets: int) -> sql.Composed:
    return sql.SQL("(hashtextextended({}::text, 0) & {})").format(sql.Identifier(key), sql.Literal(buckets - 1))


def _estimated_rows(conn, relation: sql.Composed) -> float:
    # The planner scales the last ANALYZE's density by the table's current size, and estimates from
    # the size alone when it was never analysed (a replica loaded a moment ago): reltuples would be -1.
    with conn, conn.cursor() as cur:
        cur.execute(sql.SQL("explain (format json) select from {}").format(relation))
        (plan,) = cur.fetchone()
    return float(plan[0]["Plan"]["Plan Rows"])


def _bucket_summaries(conn, relation: sql.Composed, key: str, buckets: int) -> dict[int, tuple[int, int]]:
    """{bucket: (ids, xor of their hashes)}. The xor is order independent, so no sort, and the bucket
    uses the hash's low bits while the checksum keeps the other 64 - log2(buckets)."""
    query = sql.SQL(
        "select h & {mask}, count(*), bit_xor(h) from (select hashtextextended({key}::text, 0) as h from {rel}) s group by 1"
    ).format(mask=sql.Literal(buckets - 1), key=sql.Identifier(key), rel=relation)
    with conn, conn.cursor() as cur:
        cur.execute(query)
        return {bucket: (count, checksum) for bucket, count, checksum in cur.fetchall()}


def _stream_source_ids(conn, relation: sql.Composed, key: str, buckets: int, only: list[int] | None) -> io.StringIO:
    """The source's ids (of the `only` buckets, or all) as COPY text: one pass, no per-row round trips."""
    where = sql.SQL("")
    if only is not None:
        where = sql.SQL(" where {} = any({}::bigint[])").format(_bucket_of(key, buckets), sql.Literal(only))
    buffer = io.StringIO()
    with conn, conn.cursor() as cur:
        cur.copy_expert(
            sql.SQL("copy (select {}::text from {}{}) to stdout").format(sql.Identifier(key), relation, where), buffer
        )
    buffer.seek(0)
    return buffer


def _delete_missing(conn, relation: sql.Composed, key: str, ids: io.StringIO, buckets: int, only: list[int] | None) -> int:
    """Delete the replica's rows (of the `only` buckets, or all) whose id is not among `ids`."""
    in_buckets = sql.SQL("true")
    if only is not None:
        in_buckets = sql.SQL("{} = any({}::bigint[])").format(_bucket_of(key, buckets), sql.Literal(only))
    with conn, conn.cursor() as cur:
        cur.execute("create temp table source_ids (id text primary key) on commit drop")
        cur.copy_expert("copy source_ids from stdin", ids)
        cur.execute(
            sql.SQL(
                "delete from {rel} as r where {in_buckets} "
                "and not exists (select 1 from source_ids s where s.id = r.{key}::text)"
            ).format(rel=relation, in_buckets=in_buckets, key=sql.Identifier(key))
        )
        return cur.rowcount
