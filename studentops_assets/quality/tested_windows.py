"""Which rows of a gold table a suite validates: the whole table, or the rows written since the suite
last passed.

The large incremental facts rewrite only a window at their end on each run and never touch the rows
before it. Their dbt models declare that window (config meta `tested_window`, see
dbt/macros/tested_windows.sql, where dbt's own tests use it): `through`, an aggregate saying how far
the rows go (e.g. `max(started_at)`), and `rows`, the condition selecting what a run can rewrite
when the table reached `{through}` before it. A passing suite records in its check's metadata how far
it validated and which table file it read (`pg_relation_filenode`); the next run validates only
`rows` at that recorded value. A failing suite records nothing, so its next run reads the same rows
again (and the new ones), until they pass. The mark also holds a fingerprint of the suite's
expectations: an edited suite validates the whole table once. Rules across tables read the whole
table every time (gx_runner.reads_whole_table).

The whole table is validated when there is no passing evaluation yet, when the table's file changed
(a full refresh creates a new table; TRUNCATE, VACUUM FULL and CLUSTER rewrite it), and for tables
whose model declares no window. Keys stay unique across the whole table: these models have unique
indexes on their keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
import psycopg2
from psycopg2 import sql


@dataclass(frozen=True)
class TestedWindow:
    """A model's meta.tested_window: `through` (an aggregate over the table), its SQL `type`, and
    `rows` (a condition with `{through}` in it)."""

    through: str
    type: str
    rows: str
    # Used by dbt's tests only (tested_windows.sql): surrogate keys hashed from the unique key.
    derived_keys: tuple[str, ...] = ()

    def condition(self, validated_through: str) -> str:
        literal = "'" + validated_through.replace("'", "''") + "'::" + self.type
        return "(" + self.rows.replace("{through}", literal) + ")"


@dataclass(frozen=True)
class ValidationScope:
    """What one validation reads: `condition` (None: the whole table), and what to record when it
    passes: how far the table went when the validation started and the file it was in."""

    condition: str | None
    through: str | None
    filenode: int | None
    since: str | None = None
    fingerprint: str | None = None

    @property
    def whole_table(self) -> bool:
        return self.condition is None

    def metadata(self) -> dict[str, dg.MetadataValue]:
        out = {"validated_rows": dg.MetadataValue.text("whole table" if self.whole_table else self.condition)}
        if self.through is not None and self.filenode is not None:
            out["validated_through"] = dg.MetadataValue.text(self.through)
            out["relation_filenode"] = dg.MetadataValue.int(self.filenode)
            if self.fingerprint is not None:
                out["suite_fingerprint"] = dg.MetadataValue.text(self.fingerprint)
        return out


@cache
def _windows(manifest_path: Path, mtime_ns: int) -> dict[str, TestedWindow]:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    out = {}
    for node in manifest["nodes"].values():
        window = (node.get("config", {}).get("meta") or {}).get("tested_window")
        if node["resource_type"] == "model" and window:
            out[f"{node['schema']}.{node.get('alias') or node['name']}"] = TestedWindow(
                through=window["through"], type=window["type"], rows=window["rows"],
                derived_keys=tuple(window.get("derived_keys", ())))
    return out


def tested_window(qualified_table: str) -> TestedWindow | None:
    """The window the table's dbt model declares, from the parsed manifest (None: validate it whole)."""
    from studentops_assets.warehouse.project import warehouse_dbt_project

    path = Path(warehouse_dbt_project().manifest_path)
    return _windows(path, path.stat().st_mtime_ns).get(qualified_table)


def last_passing_scope(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey) -> dict | None:
    """`validated_through`, `relation_filenode` and `suite_fingerprint` of the check's latest passing
    evaluation."""
    records = instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=1, status={AssetCheckExecutionRecordStatus.SUCCEEDED}
    )
    if not records or records[0].event is None or records[0].event.dagster_event is None:
        return None
    metadata = records[0].event.dagster_event.event_specific_data.metadata
    if "validated_through" not in metadata or "relation_filenode" not in metadata:
        return None
    fingerprint = metadata.get("suite_fingerprint")
    return {"through": metadata["validated_through"].value, "filenode": metadata["relation_filenode"].value,
            "fingerprint": fingerprint.value if fingerprint is not None else None}


def validation_scope(cur, qualified_table: str, window: TestedWindow | None, last: dict | None,
                     fingerprint: str | None = None) -> ValidationScope:
    """The rows to validate now, and what to record if they pass (read before validating: rows a
    concurrent run writes meanwhile are validated next time). `fingerprint` identifies the suite's
    expectations: a mark made by another version of the suite does not count."""
    if window is None:
        return ValidationScope(condition=None, through=None, filenode=None)
    schema, table = qualified_table.split(".", 1)
    try:
        cur.execute(
            sql.SQL("select pg_relation_filenode(%s::regclass), ({})::text from {}").format(
                sql.SQL(window.through), sql.Identifier(schema, table)
            ),
            (qualified_table,),
        )
    except psycopg2.Error:
        # The table lost a column the window reads (schema drift): validate it whole, record nothing.
        # The suite's expectations on that column then fail with the database's error.
        cur.connection.rollback()
        return ValidationScope(condition=None, through=None, filenode=None)
    filenode, through = cur.fetchone()
    if last is None or last["filenode"] != filenode or last.get("fingerprint") != fingerprint:
        return ValidationScope(condition=None, through=through, filenode=filenode, fingerprint=fingerprint)
    return ValidationScope(condition=window.condition(last["through"]), through=through, filenode=filenode,
                           since=last["through"], fingerprint=fingerprint)
