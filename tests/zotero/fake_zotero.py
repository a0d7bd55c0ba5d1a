"""A Zotero Web API v3 server on 127.0.0.1 for the tests, speaking the API's shapes and headers.

Modelled on https://www.zotero.org/support/dev/web_api/v3/basics and .../v3/syncing:
- `GET /{users|groups}/{id}/items` returns a JSON array of `{key, version, library, links, meta, data}`,
  with `Last-Modified-Version` (the library version), `Total-Results` and `Link` (rel next/last/alternate,
  absolute URLs keeping the query). `since=<v>` keeps objects with version > v; trashed items
  (`data.deleted: 1`) only come with `includeTrashed=1`; `limit` is capped at 100; the default order is
  dateModified, newest first. `If-Modified-Since-Version: <v>` answers 304 when the library is not newer.
- `GET /{users|groups}/{id}/deleted?since=<v>` returns `{collections, searches, items, tags, settings}`.
- The key comes in `Zotero-API-Key`; a missing or unknown key, or a library the key cannot read, is 403.

Faults are queued per request: a status (429/503 with Retry-After, 500), a slow answer, a dropped
connection, a `Backoff` header, or a library write that lands while the client is paging.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

KEY_ALPHABET = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
EPOCH = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc)
MAX_LIMIT = 100


def item_key(n: int, prefix: str = "") -> str:
    """A Zotero-style 8-character key (Zotero's alphabet has no 0, 1 or O)."""
    chars = []
    for _ in range(8 - len(prefix)):
        n, r = divmod(n, len(KEY_ALPHABET))
        chars.append(KEY_ALPHABET[r])
    return prefix + "".join(reversed(chars))


@dataclass
class Library:
    kind: str  # "users" | "groups"
    id: int
    name: str
    api_root: str
    version: int = 0
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.kind}/{self.id}"

    def _envelope(self, data: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        web = f"https://www.zotero.org/{self.name.replace(' ', '_').lower()}"
        links = {
            "self": {"href": f"https://api.zotero.org/{self.path}/items/{data['key']}", "type": "application/json"},
            "alternate": {"href": f"{web}/items/{data['key']}", "type": "text/html"},
        }
        if data.get("parentItem"):
            links["up"] = {"href": f"https://api.zotero.org/{self.path}/items/{data['parentItem']}", "type": "application/json"}
        return {
            "key": data["key"],
            "version": data["version"],
            "library": {
                "type": self.kind[:-1],
                "id": self.id,
                "name": self.name,
                "links": {"alternate": {"href": web, "type": "text/html"}},
            },
            "links": links,
            "meta": meta,
            "data": data,
        }

    def write(self, *changes: dict[str, Any], meta: dict[str, Any] | None = None) -> int:
        """One write request: every object in it gets the new library version (as Zotero does)."""
        self.version += 1
        stamp = (EPOCH + dt.timedelta(minutes=self.version)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for change in changes:
            key = change["key"]
            old = self.items.get(key)
            data = copy.deepcopy(old["data"]) if old else {"dateAdded": stamp, "tags": [], "collections": [], "relations": {}}
            data.update(copy.deepcopy(change))
            data["version"] = self.version
            data["dateModified"] = stamp
            item_meta = dict(old["meta"]) if old else {"numChildren": 0}
            if meta:
                item_meta.update(meta)
            if isinstance(data.get("date"), str) and data["date"][:4].isdigit():
                item_meta["parsedDate"] = data["date"][:10] if len(data["date"]) >= 10 else f"{data['date'][:4]}-00-00"
            self.items[key] = self._envelope(data, item_meta)
            self.deleted.pop(key, None)
        return self.version

    def add_raw(self, item: dict[str, Any]) -> None:
        """A real API item, served byte-for-byte as it was recorded."""
        self.items[item["key"]] = copy.deepcopy(item)
        self.version = max(self.version, item["version"])

    def trash(self, key: str) -> int:
        return self.write({"key": key, "deleted": 1})

    def delete(self, *keys: str) -> int:
        self.version += 1
        for key in keys:
            del self.items[key]
            self.deleted[key] = self.version
        return self.version

    def add_broken(self, key: str, item: Any) -> None:
        """A record the API should never send (the loader must quarantine it, not fall over)."""
        self.version += 1
        self.items[key] = item

    @staticmethod
    def _data(item: Any) -> dict[str, Any]:
        return item["data"] if isinstance(item, dict) and isinstance(item.get("data"), dict) else {}

    def _version(self, item: Any) -> int:
        version = item.get("version") if isinstance(item, dict) else None
        return version if isinstance(version, int) else self.version

    def visible(self, since: int, include_trashed: bool) -> list[Any]:
        chosen = [
            (key, i) for key, i in self.items.items()
            if self._version(i) > since and (include_trashed or not self._data(i).get("deleted"))
        ]
        chosen.sort(key=lambda pair: (self._data(pair[1]).get("dateModified", ""), pair[0]), reverse=True)
        return [i for _, i in chosen]

    def state(self) -> dict[str, dict[str, Any]]:
        """What a complete mirror must hold: every well-formed item outside the trash, by key."""
        return {
            k: i for k, i in self.items.items()
            if self._data(i) and isinstance(i.get("version"), int) and not self._data(i).get("deleted")
        }


@dataclass
class Request:
    at: float
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0

    @property
    def library(self) -> str:
        return "/".join(self.path.strip("/").split("/")[:2])

    @property
    def endpoint(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    """Applies to requests matching `library`, `endpoint` and `start` (None: any), `times` times."""

    action: str  # status | slow | drop | backoff | mutate
    library: str | None = None
    endpoint: str | None = None
    start: int | None = None
    times: int | float = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    seconds: float = 0.0
    mutate: Callable[[], Any] | None = None

    def matches(self, request: Request) -> bool:
        if self.times <= 0:
            return False
        if self.library is not None and request.library != self.library:
            return False
        if self.endpoint is not None and request.endpoint != self.endpoint:
            return False
        if self.start is not None and int(request.param("start") or 0) != self.start:
            return False
        return True


class FakeZotero:
    def __init__(self) -> None:
        self.libraries: dict[str, Library] = {}
        self.keys: dict[str, set[str]] = {}
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.send_link_header = True  # off: paging must go by Total-Results and start/limit alone
        self.lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeZotero":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # Setup -----------------------------------------------------------------------------------------

    def library(self, kind: str, library_id: int, name: str) -> Library:
        lib = Library(kind, library_id, name, self.url)
        self.libraries[lib.path] = lib
        return lib

    def grant(self, api_key: str, *libraries: Library) -> None:
        self.keys.setdefault(api_key, set()).update(lib.path for lib in libraries)

    def add_fault(self, **kwargs: Any) -> Fault:
        fault = Fault(**kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_requests(self) -> list[Request]:
        with self.lock:
            taken, self.requests = self.requests, []
        return taken

    # Serving ---------------------------------------------------------------------------------------

    def _fault_for(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(request):
                    fault.times -= 1
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # the tests read fake.requests instead
                pass

            def handle_one_request(self) -> None:
                try:
                    super().handle_one_request()
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up on a slow answer; the server shrugs as Zotero's would.
                    self.close_connection = True

            def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.request_record.status = status
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                record = Request(time.monotonic(), parts.path, parse_qs(parts.query), dict(self.headers.items()))
                self.request_record = record
                with fake.lock:
                    fake.requests.append(record)
                fault = fake._fault_for(record)
                extra: dict[str, str] = {}
                if fault is not None:
                    if fault.action == "drop":
                        # The server goes away mid-sync: no status line, the socket just closes.
                        record.status = -1
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if fault.action == "status":
                        self.send(fault.status, fault.body.encode(), {"Content-Type": "text/plain", **fault.headers})
                        return
                    if fault.action == "slow":
                        time.sleep(fault.seconds)
                    if fault.action == "backoff":
                        extra["Backoff"] = str(int(fault.seconds))
                    if fault.action == "mutate" and fault.mutate is not None:
                        with fake.lock:
                            fault.mutate()
                with fake.lock:
                    self.route(parts.path, record, extra)

            def route(self, path: str, record: Request, extra: dict[str, str]) -> None:
                segments = path.strip("/").split("/")
                if len(segments) != 3 or segments[0] not in ("users", "groups"):
                    self.send(404, b"Not found", {"Content-Type": "text/plain"})
                    return
                lib = fake.libraries.get(f"{segments[0]}/{segments[1]}")
                key = record.headers.get("Zotero-API-Key")
                if key is None or key not in fake.keys:
                    self.send(403, b"Invalid key" if key else b"Forbidden", {"Content-Type": "text/plain"})
                    return
                if lib is None or lib.path not in fake.keys[key]:
                    self.send(403, b"Forbidden", {"Content-Type": "text/plain"})
                    return
                if record.headers.get("Zotero-API-Version") != "3":
                    self.send(400, b"This fake only speaks API version 3", {"Content-Type": "text/plain"})
                    return
                headers = {"Last-Modified-Version": str(lib.version), "Zotero-API-Version": "3", **extra}
                if segments[2] == "deleted":
                    since = record.param("since")
                    if since is None:
                        self.send(400, b"'since' parameter must be provided", {"Content-Type": "text/plain"})
                        return
                    body = {
                        "collections": [],
                        "searches": [],
                        "items": sorted(k for k, v in lib.deleted.items() if v > int(since)),
                        "tags": [],
                        "settings": [],
                    }
                    self.send(200, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})
                    return
                if segments[2] != "items":
                    self.send(404, b"Not found", {"Content-Type": "text/plain"})
                    return
                condition = record.headers.get("If-Modified-Since-Version")
                if condition is not None and lib.version <= int(condition):
                    self.send(304, b"", headers)
                    return
                since = int(record.param("since") or 0)
                start = int(record.param("start") or 0)
                limit = min(int(record.param("limit") or 25), MAX_LIMIT)
                chosen = lib.visible(since, record.param("includeTrashed") == "1")
                page = chosen[start : start + limit]
                headers["Total-Results"] = str(len(chosen))
                if fake.send_link_header:
                    headers["Link"] = self.links(path, record, start, limit, len(chosen), lib)
                self.send(200, json.dumps(page, ensure_ascii=False).encode(), {"Content-Type": "application/json", **headers})

            def links(self, path: str, record: Request, start: int, limit: int, total: int, lib: Library) -> str:
                def at(position: int) -> str:
                    query = {k: v[0] for k, v in record.query.items()}
                    query["start"] = str(position)
                    query["limit"] = str(limit)
                    return f"{fake.url}{path}?{urlencode(query)}"

                links = []
                if start + limit < total:
                    links.append(f'<{at(start + limit)}>; rel="next"')
                    links.append(f'<{at(((total - 1) // limit) * limit)}>; rel="last"')
                links.append(f'<https://www.zotero.org/{lib.path}/items>; rel="alternate"')
                return ", ".join(links)

        return Handler
