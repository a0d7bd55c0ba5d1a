"""Row counts and column schemas for the dbt models' asset pages, at the cost of one catalog query per
model on ONE connection per step.

dagster-dbt's `fetch_row_counts()` and `fetch_column_metadata()` open two new connections per model
through an in-process dbt adapter, list the whole schema to find the relation and run `count(*)` over
every table after dbt built it (a full scan of each fact). Here:

- row count (`dagster/row_count`): a table that dbt (re)created with `create table ... as select` (a
  `table` model; an incremental model or snapshot on its first or full-refresh build) reports its
  exact row count in the adapter response of that statement ("SELECT 72000"), so no query. Only an
  incremental model or snapshot that merged or inserted a delta into an existing table (adapter
  response INSERT / MERGE / UPDATE) is counted with `count(*)`: its rows_affected is the delta, not the
  table. Views get no row count (counting a view runs its whole query), as with dagster-dbt.
- column schema (`dagster/column_schema`): names and types from `information_schema.columns` typed
  as dbt types them (dbt's own `Column`), with the column comments that dbt's `persist_docs` wrote from
  the yml descriptions. Views and tables both get it: reading the catalog runs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dbt.adapters.postgres.column import PostgresColumn

# Adapter response codes of a statement that (re)built the whole relation: its rows_affected is the
# table's row count. "INSERT" is a table model built as an empty table plus one insert (a contract).
_WHOLE_TABLE_CODES = {"table": {"SELECT", "INSERT"}, "incremental": {"SELECT"}, "snapshot": {"SELECT"}}

_COLUMNS_SQL = """
select c.column_name, c.data_type, c.character_maximum_length, c.numeric_precision, c.numeric_scale,
       col_description(format('%%I.%%I', c.table_schema, c.table_name)::regclass, c.ordinal_position)
from information_schema.columns c
where c.table_schema = %s and c.table_name = %s
order by c.ordinal_position
"""


def node_finished(raw_event: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """(unique_id, adapter response) of a dbt NodeFinished event, else None."""
    if raw_event.get("info", {}).get("name") != "NodeFinished":
        return None
    data = raw_event.get("data", {})
    unique_id = data.get("node_info", {}).get("unique_id")
    if not unique_id:
        return None
    return unique_id, (data.get("run_result") or {}).get("adapter_response") or {}


def row_count_from_response(materialized: str, adapter_response: Mapping[str, Any]) -> int | None:
    """The table's exact row count when the statement dbt reported built the whole table, else None."""
    rows = adapter_response.get("rows_affected")
    code = str(adapter_response.get("code") or "").upper()
    if rows is None or rows < 0 or code not in _WHOLE_TABLE_CODES.get(materialized, ()):
        return None
    return int(rows)


def column_schema(cur, schema: str, name: str) -> dg.TableSchema | None:
    cur.execute(_COLUMNS_SQL, (schema, name))
    columns = [
        dg.TableColumn(
            name=column,
            type=PostgresColumn(column, dtype, char_size, precision, scale).data_type,
            description=description or None,
        )
        for column, dtype, char_size, precision, scale, description in cur.fetchall()
    ]
    return dg.TableSchema(columns=columns) if columns else None


def model_metadata(cur, node: Mapping[str, Any], adapter_response: Mapping[str, Any]) -> dict[str, Any]:
    """Row count (tables only) and column schema of a model, seed or snapshot dbt just built."""
    materialized = node.get("config", {}).get("materialized", "view")
    schema, name = node["schema"], node.get("alias") or node["name"]
    out: dict[str, Any] = {}
    if materialized != "view" and node.get("resource_type") in ("model", "snapshot", "seed"):
        rows = row_count_from_response(materialized, adapter_response)
        if rows is None:
            cur.execute(f'select count(*) from "{schema}"."{name}"')
            rows = cur.fetchone()[0]
        out["dagster/row_count"] = rows
    columns = column_schema(cur, schema, name)
    if columns is not None:
        out["dagster/column_schema"] = columns
    return out
