"""Indexes on the platform replicas, so work on a delta grows with the delta.

dlt creates the replicas without any index (its csv/COPY path sets no keys). Three readers then
scan whole tables where they need a few rows:
- dlt's merge deletes the staged keys from the replica (`delete ... where exists (staging key)`):
  without an index on the key that is a hash join over every row of the replica;
- the incremental dbt marts rank only the keys with rows in their window (`latest_per_key`
  keys_where): without an index on the cursor column the window is a sequential scan;
- deletion detection deletes the ids gone from the source.

The key gets a hash index, the cursor a b-tree; neither is unique: staging, not the replica, is where
a key is made unique (a hand-appended duplicate must not fail the load). A hash index answers only
equality, which is all the merges and lookups need, and that is the point: with a b-tree on the key,
Postgres walked the whole 1.8M-row sessions replica in key order (random uuids, so random heap reads)
to feed the staging window function that ranks versions per key: 24 s where a sequential scan and a
sort take 3. A composite key is hashed on its first column (hash indexes have one column).

`replace` tables are rewritten whole each run and are small, so they get none. The indexes are made
after the load: the first sync builds each once over the loaded rows (faster than maintaining it row
by row during COPY), and every later run finds them in place.
"""

from __future__ import annotations

from psycopg2 import sql

from .tables import PlatformTable


def index_columns(table: PlatformTable) -> list[tuple[str, tuple[str, ...]]]:
    """(method, columns) of the indexes on `table`'s replica: its key, then its cursor."""
    if table.disposition == "replace":
        return []
    wanted = [("hash", table.primary_key[:1])]
    if table.cursor and (table.cursor,) != table.primary_key:
        wanted.append(("btree", (table.cursor,)))
    return wanted


def index_name(table: PlatformTable, method: str, columns: tuple[str, ...]) -> str:
    # Postgres truncates identifiers at 63 bytes; the table names here keep it well under.
    return f"{table.raw_table}__{'_'.join(columns)}_{method}_idx"


def ensure_replica_indexes(conn, tables: list[PlatformTable], schema: str = "raw") -> list[str]:
    """Create the missing indexes of `tables`' replicas; returns the names created in this call."""
    created = []
    with conn.cursor() as cur:
        cur.execute("select indexname from pg_indexes where schemaname = %s", (schema,))
        existing = {row[0] for row in cur.fetchall()}
        for table in tables:
            missing = [(m, c) for m, c in index_columns(table) if index_name(table, m, c) not in existing]
            for method, columns in missing:
                cur.execute(
                    sql.SQL("create index if not exists {} on {}.{} using {} ({})").format(
                        sql.Identifier(index_name(table, method, columns)), sql.Identifier(schema),
                        sql.Identifier(table.raw_table), sql.SQL(method),
                        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                    )
                )
                created.append(index_name(table, method, columns))
            if missing:
                # Fresh statistics too: the planner needs them to pick the index for a small window.
                cur.execute(sql.SQL("analyze {}.{}").format(sql.Identifier(schema), sql.Identifier(table.raw_table)))
    conn.commit()
    return created
