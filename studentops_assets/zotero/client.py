"""HTTP to the Zotero Web API v3: retries, Backoff, and a key that never leaves its header.

Retries are dlt's requests client: 429, 5xx, timeouts and dropped connections are retried with
exponential waits, and a `Retry-After` on 429/503 sets the wait. Zotero's own `Backoff: <seconds>`
header (sent on successful responses when the server is busy) is not an error, so dlt does not see it:
this client remembers it and waits before its next request; a Backoff longer than the longest retry
wait ends the read instead, and the library resumes from its cursor on the next run.

The key is sent only as `Zotero-API-Key`, never in a URL, and only to the configured API root:
redirects are not followed and a paging link to another host is refused, because requests would
carry a custom header along to wherever it is sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from dlt.sources.helpers.requests import Client

API_VERSION = "3"
MAX_PAGE_SIZE = 100  # Zotero serves at most 100 objects per request
ERROR_TEXT_CHARS = 200


class ZoteroError(Exception):
    """A library could not be read. Messages name the request, never the key."""


class ZoteroUnavailable(ZoteroError):
    """Still failing after the retries (5xx, 429, timeouts, dropped connections): try again later."""


class ZoteroRefused(ZoteroError):
    """The server said no for good (401/403: key not valid for the library, 404: no such library)."""


class ZoteroProtocolError(ZoteroError):
    """The answer is not what the API documents (bad JSON, missing headers, foreign links)."""


@dataclass(frozen=True)
class ZoteroResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    next_url: str | None
    where: str  # "GET /users/1/items?start=100": for messages, carries no secret

    def header_int(self, name: str) -> int | None:
        value = self.headers.get(name)
        if value is None:
            return None
        try:
            return int(value.strip())
        except ValueError:
            raise ZoteroProtocolError(f"{self.where}: header {name} is not an integer: {value[:40]!r}") from None

    @property
    def library_version(self) -> int:
        version = self.header_int("Last-Modified-Version")
        if version is None:
            raise ZoteroProtocolError(f"{self.where}: no Last-Modified-Version header")
        return version

    @property
    def total_results(self) -> int | None:
        return self.header_int("Total-Results")

    def json(self) -> Any:
        try:
            # Zotero sends UTF-8; a stray invalid byte becomes U+FFFD instead of losing the whole page.
            return json.loads(self.body.decode("utf-8", errors="replace"))
        except json.JSONDecodeError as exc:
            raise ZoteroProtocolError(f"{self.where}: body is not JSON ({exc})") from None


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"GET {parts.path}" + (f"?{parts.query}" if parts.query else "")


class ZoteroClient:
    def __init__(
        self,
        base_url: str = "https://api.zotero.org",
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_factor: float = 1.0,
        max_retry_delay: float = 300.0,
        page_size: int = MAX_PAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self.max_attempts = max_attempts
        self.max_wait = max_retry_delay
        self._origin = self._origin_of(self.base_url)
        self._clock = clock
        self._sleep = sleep
        self._resume_at = 0.0
        self._lock = threading.Lock()
        self._http = Client(
            request_timeout=timeout,
            raise_for_status=False,  # 304 and 4xx are answers this client interprets itself
            request_max_attempts=max_attempts,
            request_backoff_factor=backoff_factor,
            request_max_retry_delay=max_retry_delay,
            respect_retry_after_header=True,
            session_attrs={"headers": {"User-Agent": "studentops (dlt requests)", "Zotero-API-Version": API_VERSION}},
        )

    @staticmethod
    def _origin_of(url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        return parts.scheme.lower(), parts.netloc.lower()

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    # Backoff ---------------------------------------------------------------------------------------

    def _note_backoff(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        # A response hook runs on every attempt, retried ones included.
        value = response.headers.get("Backoff")
        if value:
            try:
                seconds = float(value.strip())
            except ValueError:
                seconds = 0.0
            if seconds > 0:
                with self._lock:
                    self._resume_at = max(self._resume_at, self._clock() + seconds)
        return response

    def _wait_for_backoff(self, where: str) -> None:
        with self._lock:
            pause = self._resume_at - self._clock()
        if pause > self.max_wait:
            # Holding a worker for longer than any retry wait is worse than resuming on the next run.
            raise ZoteroUnavailable(f"{where}: the server asked to back off for {pause:.0f} s (more than {self.max_wait:.0f} s)")
        if pause > 0:
            self._sleep(pause)

    # Requests --------------------------------------------------------------------------------------

    def get(
        self,
        path_or_url: str,
        api_key: str,
        params: Mapping[str, Any] | None = None,
        if_modified_since_version: int | None = None,
    ) -> ZoteroResponse:
        """GET one page. Returns 200 and 304 answers; raises ZoteroError for everything else."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        if self._origin_of(url) != self._origin:
            raise ZoteroProtocolError(
                f"{_where(url)}: refusing to send the API key to {urlsplit(url).netloc}, which is not the configured API root"
            )
        headers = {"Zotero-API-Key": api_key}
        if if_modified_since_version is not None:
            headers["If-Modified-Since-Version"] = str(if_modified_since_version)
        prepared = requests.Request("GET", url, params=dict(params or {})).prepare()
        where = _where(prepared.url or url)
        self._wait_for_backoff(where)
        try:
            response = self._http.get(
                url,
                params=dict(params or {}),
                headers=headers,
                allow_redirects=False,
                hooks={"response": [self._note_backoff]},
            )
        except requests.RequestException as exc:
            raise ZoteroUnavailable(f"{where}: no answer after {self.max_attempts} tries ({type(exc).__name__})") from None
        status = response.status_code
        if status in (200, 304):
            return ZoteroResponse(
                status=status,
                headers=response.headers,
                body=response.content if status == 200 else b"",
                next_url=response.links.get("next", {}).get("url"),
                where=where,
            )
        # Redact before cutting, or a key straddling the cut would survive in part.
        detail = _redact(response.text, api_key)[:ERROR_TEXT_CHARS].strip()
        message = f"{where}: HTTP {status}" + (f" ({detail})" if detail else "")
        if status == 429 or status >= 500:
            raise ZoteroUnavailable(f"{message} after {self.max_attempts} tries")
        if status in (401, 403, 404):
            raise ZoteroRefused(message)
        if 300 <= status < 400:
            raise ZoteroProtocolError(f"{message}: redirects are not followed, the API key only goes to {self.base_url}")
        raise ZoteroProtocolError(message)
