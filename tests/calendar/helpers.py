"""Shared test plumbing for the calendar domain: materialising an asset, reading the warehouse,
a local HTTP server whose routes the test changes between runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
from dagster._serdes import serialize_value
from dagster_dlt import DagsterDltResource


@dataclass
class Run:
    result: dg.ExecuteInProcessResult
    metadata: dict
    logs_text: str  # every event of the run, serialised: to assert no secret is in it

    def meta(self, key: str):
        value = self.metadata[key]
        return getattr(value, "value", value)


def materialise(assets_def, warehouse, config: dict | None = None, raise_on_error: bool = True, **resources) -> Run:
    instance = dg.DagsterInstance.ephemeral()
    op = assets_def.op.name
    result = dg.materialize(
        [assets_def],
        resources={"warehouse": warehouse, "dlt": DagsterDltResource(), **resources},
        instance=instance,
        run_config={"ops": {op: {"config": config or {}}}},
        raise_on_error=raise_on_error,
    )
    logs = instance.all_logs(result.run_id)
    # Also of a failed run: an outage fails the step after the others' data was loaded and recorded.
    mats = result.asset_materializations_for_node(op)
    return Run(result, dict(mats[0].metadata) if mats else {}, "\n".join(serialize_value(e) for e in logs))


def query(warehouse, sql: str, params=None) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def fingerprint(warehouse, tables: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """(row count, md5 of all rows) per table: the data and dlt's bookkeeping tables alike."""
    out = {}
    for table in tables:
        out[table] = query(
            warehouse,
            f"select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from {table} t",
        )[0]
    return out


def raw_tables(warehouse) -> tuple[str, ...]:
    return tuple(
        f'raw."{name}"'
        for (name,) in query(warehouse, "select table_name from information_schema.tables where table_schema = 'raw' order by 1")
    )


def quarantine(warehouse, source: str) -> list[tuple]:
    return query(
        warehouse,
        "select student_id, file, location, reason from meta.quarantine where source = %s order by file, location, reason",
        (source,),
    )


def dump_everything(warehouse) -> str:
    """All rows of raw.* and meta.quarantine as text, to search for leaked secrets."""
    parts = []
    for table in (*raw_tables(warehouse), "meta.quarantine"):
        parts += [str(row) for row in query(warehouse, f"select t::text from {table} t")]
    return "\n".join(parts)


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """Serves `routes[path]` on 127.0.0.1; a test swaps routes between runs. Counts hits per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                route = server.routes.get(self.path, Route(404, b"not found"))
                if route.delay:
                    time.sleep(route.delay)
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", "text/calendar; charset=utf-8")
                    self.send_header("Content-Length", str(len(route.body)))
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def serving(server) -> Iterator:
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
