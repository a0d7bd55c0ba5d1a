"""Local stand-ins for the OpenAlex and Crossref APIs on 127.0.0.1, speaking their real shapes.

OpenAlex: `GET /works/doi:{doi}` -> a Work object (https://docs.openalex.org/api-entities/works/
work-object), 404 with a JSON error for an unknown DOI. Crossref: `GET /works/{doi}` -> `{status: ok,
message-type: work, message-version, message: {...}}`, 404 with the plain-text body "Resource not
found." Both are case-insensitive in the DOI, as the real APIs are.

Faults are queued per (provider, doi) and consumed one per request, so a test can say "the first two
requests for this DOI get a 503, then answer": ("status", 500), ("status", 429, retry_after_seconds),
("sleep", seconds) (longer than the client timeout: a timeout), ("body", b"...") (a 200 with junk).
Every request is recorded (path, query, headers) so tests can count calls and inspect what was sent.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Paper:
    doi: str  # normalised (lowercase)
    title: str
    year: int
    venue: str | None
    authors: tuple[tuple[str, str], ...]  # (given, family)
    cited_by: int
    retracted: bool = False
    kind: str = "article"


def openalex_work(paper: Paper, work_id: str) -> dict[str, Any]:
    source = None if paper.venue is None else {
        "id": f"https://openalex.org/S{zlib.crc32(paper.venue.encode()) % 10**9}",
        "display_name": paper.venue,
        "issn_l": None,
        "is_oa": False,
        "type": "journal",
    }
    return {
        "id": f"https://openalex.org/{work_id}",
        "doi": f"https://doi.org/{paper.doi}",
        "title": paper.title,
        "display_name": paper.title,
        "publication_year": paper.year,
        "publication_date": f"{paper.year}-05-28",
        "ids": {"openalex": f"https://openalex.org/{work_id}", "doi": f"https://doi.org/{paper.doi}"},
        "language": "en",
        "primary_location": {
            "is_oa": False,
            "landing_page_url": f"https://doi.org/{paper.doi}",
            "pdf_url": None,
            "source": source,
            "license": None,
            "version": "publishedVersion",
        },
        "type": paper.kind,
        "open_access": {"is_oa": False, "oa_status": "closed", "oa_url": None},
        "authorships": [
            {
                "author_position": "first" if i == 0 else ("last" if i == len(paper.authors) - 1 else "middle"),
                "author": {"id": f"https://openalex.org/A{5000 + i}", "display_name": f"{given} {family}",
                           "orcid": None},
                "institutions": [],
                "countries": [],
                "is_corresponding": i == 0,
                "raw_author_name": f"{given} {family}",
            }
            for i, (given, family) in enumerate(paper.authors)
        ],
        "cited_by_count": paper.cited_by,
        "is_retracted": paper.retracted,
        "is_paratext": False,
        "referenced_works_count": 0,
        "referenced_works": [],
        "updated_date": "2026-11-02T05:12:44.871263",
        "created_date": "2016-06-24",
    }


def crossref_message(paper: Paper) -> dict[str, Any]:
    message: dict[str, Any] = {
        "indexed": {"date-parts": [[2026, 10, 30]], "date-time": "2026-10-30T14:05:11Z", "timestamp": 1793369111000},
        "reference-count": 0,
        "publisher": "Example Publisher",
        "DOI": paper.doi,
        "type": "journal-article" if paper.kind == "article" else paper.kind,
        "created": {"date-parts": [[paper.year, 5, 27]], "date-time": f"{paper.year}-05-27T14:05:11Z"},
        "title": [paper.title],
        "author": [{"given": given, "family": family, "sequence": "first" if i == 0 else "additional",
                    "affiliation": []} for i, (given, family) in enumerate(paper.authors)],
        "container-title": [] if paper.venue is None else [paper.venue],
        "is-referenced-by-count": paper.cited_by,
        "issued": {"date-parts": [[paper.year, 5, 28]]},
        "URL": f"https://doi.org/{paper.doi}",
        "member": "339",
        "score": 1,
    }
    if paper.retracted:
        message["updated-by"] = [{"updated": {"date-parts": [[paper.year + 1, 1, 1]]}, "DOI": f"{paper.doi}.retraction",
                                  "type": "retraction", "source": "retraction-watch", "label": "Retraction"}]
    return {"status": "ok", "message-type": "work", "message-version": "1.0.0", "message": message}


@dataclass
class Recorded:
    provider: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


@dataclass
class FakeScholarly:
    openalex: dict[str, Paper] = field(default_factory=dict)
    crossref: dict[str, Paper] = field(default_factory=dict)
    faults: dict[tuple[str, str], deque] = field(default_factory=lambda: defaultdict(deque))
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[str, ThreadingHTTPServer] = {}

    # -- test API --------------------------------------------------------------------------------
    def fault(self, provider: str, doi: str, *faults: tuple) -> None:
        self.faults[(provider, doi)].extend(faults)

    def count(self, provider: str | None = None, doi: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for r in self.requests
                if (provider is None or r.provider == provider) and (doi is None or doi in unquote(r.path).lower())
            )

    def url(self, provider: str) -> str:
        host, port = self._servers[provider].server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeScholarly":
        for provider in ("openalex", "crossref"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(provider))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers[provider] = server
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    # -- server side -----------------------------------------------------------------------------
    def _next_fault(self, provider: str, doi: str) -> tuple | None:
        with self._lock:
            queue = self.faults.get((provider, doi))
            return queue.popleft() if queue else None

    def _answer(self, provider: str, path: str) -> tuple[int, dict[str, str], bytes]:
        prefix = "/works/doi:" if provider == "openalex" else "/works/"
        if not path.startswith(prefix):
            return 400, {"Content-Type": "application/json"}, b'{"error": "Bad request"}'
        doi = unquote(path[len(prefix):]).lower()
        fault = self._next_fault(provider, doi)
        if fault is not None:
            kind = fault[0]
            if kind == "sleep":
                time.sleep(fault[1])
            elif kind == "status":
                headers = {"Content-Type": "application/json"}
                if len(fault) > 2:
                    headers["Retry-After"] = str(fault[2])
                return fault[1], headers, json.dumps({"error": f"HTTP {fault[1]}"}).encode()
            elif kind == "body":
                return 200, {"Content-Type": "application/json"}, fault[1]
        if provider == "openalex":
            paper = self.openalex.get(doi)
            if paper is None:
                body = {"error": "404 Not Found", "message": f"The requested URL was not found: doi:{doi}"}
                return 404, {"Content-Type": "application/json"}, json.dumps(body).encode()
            work_id = f"W{2000000000 + sorted(self.openalex).index(doi)}"
            return 200, {"Content-Type": "application/json"}, json.dumps(openalex_work(paper, work_id)).encode()
        paper = self.crossref.get(doi)
        if paper is None:
            return 404, {"Content-Type": "text/plain"}, b"Resource not found."
        headers = {"Content-Type": "application/json", "X-Rate-Limit-Limit": "50", "X-Rate-Limit-Interval": "1s"}
        return 200, headers, json.dumps(crossref_message(paper)).encode()

    def _handler(self, provider: str):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                with fake._lock:
                    fake.requests.append(Recorded(provider, parts.path, parse_qs(parts.query), dict(self.headers),
                                                  time.monotonic()))
                status, headers, body = fake._answer(provider, parts.path)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and went away

            def log_message(self, *args):  # keep test output quiet
                pass

        return Handler
