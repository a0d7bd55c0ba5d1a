"""A local stand-in for Google's OAuth token endpoint and Calendar API v3 `events.list`, on 127.0.0.1.

It speaks the real shapes: `calendar#events` pages with `nextPageToken` / `nextSyncToken`, event
resources (`calendar#event`: id, etag, status, start {dateTime, timeZone} | {date}, end, updated,
recurringEventId, originalStartTime, ...), incremental results since a sync token including
`status: cancelled` deletions, and Google's error bodies for 401, 410 (fullSyncRequired),
403/429 (userRateLimitExceeded/rateLimitExceeded, with Retry-After) and 500 (backendError). Faults are queued by the test:
an error status, a response slower than the client's timeout, or a dropped connection.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

CLIENT_ID = "1234-fake.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-client-secret-do-not-leak"


def error_body(code: int, reason: str, message: str, domain: str = "global", **extra) -> dict:
    return {"error": {"errors": [{"domain": domain, "reason": reason, "message": message, **extra}],
                      "code": code, "message": message}}


ERRORS = {
    401: error_body(401, "authError", "Invalid Credentials", location="Authorization", locationType="header"),
    410: error_body(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."),
    403: error_body(403, "userRateLimitExceeded", "User Rate Limit Exceeded", domain="usageLimits"),
    429: error_body(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits"),
    500: error_body(500, "backendError", "Backend Error"),
}
ERRORS[401]["error"]["status"] = "UNAUTHENTICATED"


@dataclass
class Fault:
    """Applied to the next matching request(s). `on`: "token", "events" (any events.list request),
    "page2" (an events.list request carrying a pageToken)."""

    on: str
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False  # close the connection without an answer
    times: int = 1  # how many requests it hits; -1: until removed


@dataclass
class Logged:
    at: float
    kind: str
    params: dict
    status: int


@dataclass
class FakeGoogle:
    refresh_tokens: dict[str, str]  # refresh token -> calendar owner
    timezone: str = "Europe/Amsterdam"
    version: int = 0
    events: dict[str, dict[str, dict]] = field(default_factory=dict)  # owner -> id -> event (with _v)
    valid_sync_tokens: set[str] = field(default_factory=set)
    access_tokens: dict[str, str] = field(default_factory=dict)  # access token -> owner
    issued_access_tokens: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    log: list[Logged] = field(default_factory=list)
    snapshots: dict[str, tuple[list[dict], int]] = field(default_factory=dict)  # page set -> (items, version)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                fake._serve(self, "token", form)

            def do_GET(self):  # noqa: N802
                fake._serve(self, "events", None)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    # ---- the test's side ---------------------------------------------------------------------
    @property
    def api_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/calendar/v3"

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _stamp(self) -> str:
        # `updated` moves with every change, like Google's (millisecond RFC 3339, UTC).
        moment = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=self.version)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def put(self, owner: str, event: dict) -> None:
        """Create or update an event (a full event resource without kind/etag/updated)."""
        with self._lock:
            self.version += 1
            old = self.events.setdefault(owner, {}).get(event["id"])
            item = {
                "kind": "calendar#event",
                "etag": f'"{3180000000000000 + self.version}"',
                "status": "confirmed",
                "htmlLink": f"https://www.google.com/calendar/event?eid={event['id']}",
                "created": (old or {}).get("created", self._stamp()),
                "updated": self._stamp(),
                "creator": {"email": f"{owner}@example.org", "self": True},
                "organizer": {"email": f"{owner}@example.org", "self": True},
                "iCalUID": f"{event.get('recurringEventId', event['id'])}@google.com",
                "sequence": (old or {}).get("sequence", -1) + 1,
                "reminders": {"useDefault": True},
                "eventType": "default",
                **event,
                "_v": self.version,
            }
            self.events[owner][event["id"]] = item

    def delete(self, owner: str, event_id: str, purge: bool = False) -> None:
        """Delete (a cancelled tombstone, as Google keeps for a while), or purge without a trace."""
        with self._lock:
            self.version += 1
            if purge:
                del self.events[owner][event_id]
                return
            old = self.events[owner][event_id]
            tombstone = {"kind": "calendar#event", "etag": f'"{3180000000000000 + self.version}"',
                         "id": event_id, "status": "cancelled", "_v": self.version}
            for key in ("recurringEventId", "originalStartTime"):
                if key in old:
                    tombstone[key] = old[key]
            self.events[owner][event_id] = tombstone

    def expire_sync_tokens(self) -> None:
        self.valid_sync_tokens.clear()

    def live(self, owner: str) -> dict[str, dict]:
        return {k: v for k, v in self.events.get(owner, {}).items() if v["status"] != "cancelled"}

    def requests(self, kind: str) -> list[Logged]:
        return [entry for entry in self.log if entry.kind == kind]

    # ---- the API's side ----------------------------------------------------------------------
    def _take_fault(self, kind: str, params: dict) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                matches = fault.on == kind or (fault.on == "page2" and kind == "events" and "pageToken" in params)
                if matches:
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler, kind: str, form: dict | None) -> None:
        url = urlsplit(handler.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        # Logged on arrival (a slow answer is still logged in the order the client asked).
        handler.logged = Logged(time.monotonic(), kind, params, 0)
        self.log.append(handler.logged)
        fault = self._take_fault(kind, params if kind == "events" else {})
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.drop:
            handler.close_connection = True
            try:
                handler.connection.shutdown(2)
            except OSError:
                pass
            return
        if fault and fault.status:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            if fault.status == 401:
                self.access_tokens.clear()  # the access token was revoked
            return self._send(handler, kind, params, fault.status, ERRORS[fault.status], headers)
        if kind == "token":
            return self._token(handler, form or {})
        return self._events(handler, url.path, params)

    def _send(self, handler, kind: str, params: dict, status: int, body: dict, headers: dict | None = None) -> None:
        handler.logged.status = status
        data = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=UTF-8")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left

    def _token(self, handler, form: dict) -> None:
        if form.get("grant_type") != "refresh_token":
            return self._send(handler, "token", {}, 400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._send(handler, "token", {}, 401, {"error": "invalid_client", "error_description": "Unauthorized"})
        owner = self.refresh_tokens.get(form.get("refresh_token", ""))
        if owner is None:
            return self._send(handler, "token", {}, 400,
                              {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        with self._lock:
            token = f"ya29.a0-access-{owner}-{len(self.issued_access_tokens)}-do-not-leak"
            self.issued_access_tokens.append(token)
            self.access_tokens[token] = owner
        self._send(handler, "token", {}, 200, {"access_token": token, "expires_in": 3599,
                                               "scope": "https://www.googleapis.com/auth/calendar.readonly",
                                               "token_type": "Bearer"})

    def _page(self, owner: str, items: list[dict], offset: int, size: int, snapshot_version: int, key: str) -> dict:
        page = {
            "kind": "calendar#events",
            "etag": f'"p{snapshot_version}"',
            "summary": f"{owner}@example.org",
            "description": "",
            "updated": self._stamp(),
            "timeZone": self.timezone,
            "accessRole": "owner",
            "defaultReminders": [{"method": "popup", "minutes": 10}],
            "items": [{k: v for k, v in item.items() if k != "_v"} for item in items[offset : offset + size]],
        }
        if offset + size < len(items):
            page["nextPageToken"] = f"{key}~{offset + size}"
        else:
            token = f"CPDAlvWDx_sync{snapshot_version}="
            self.valid_sync_tokens.add(token)
            page["nextSyncToken"] = token
        return page

    def _events(self, handler, path: str, params: dict) -> None:
        auth = handler.headers.get("Authorization", "")
        owner = self.access_tokens.get(auth.removeprefix("Bearer "))
        if owner is None:
            return self._send(handler, "events", params, 401, ERRORS[401])
        calendar_id = unquote(path.split("/calendars/", 1)[1].split("/", 1)[0])
        if calendar_id != "primary":
            return self._send(handler, "events", params, 404, error_body(404, "notFound", "Not Found"))
        size = int(params.get("maxResults", 250))
        if "pageToken" in params:
            key, _, offset = params["pageToken"].rpartition("~")
            items, version = self.snapshots[key]
            return self._send(handler, "events", params, 200, self._page(owner, items, int(offset), size, version, key))
        if "syncToken" in params:
            if params.keys() & {"timeMin", "timeMax", "updatedMin", "orderBy", "q", "iCalUID"}:
                return self._send(handler, "events", params, 400, error_body(400, "invalid", "Invalid parameter"))
            token = params["syncToken"]
            if token not in self.valid_sync_tokens:
                return self._send(handler, "events", params, 410, ERRORS[410])
            since = int(token.removeprefix("CPDAlvWDx_sync").rstrip("="))
            with self._lock:
                items = sorted((e for e in self.events.get(owner, {}).values() if e["_v"] > since), key=lambda e: e["id"])
        else:
            assert params.get("singleEvents") == "true", "StudentOps asks for expanded instances"
            low, high = _parse(params["timeMin"]), _parse(params["timeMax"])
            with self._lock:
                items = sorted((e for e in self.live(owner).values() if _overlaps(e, low, high)), key=lambda e: e["id"])
        key = f"snap{len(self.snapshots)}"
        self.snapshots[key] = (items, self.version)
        self._send(handler, "events", params, 200, self._page(owner, items, 0, size, self.version, key))


def _parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _bound(edge: dict) -> dt.datetime:
    if "dateTime" in edge:
        return dt.datetime.fromisoformat(edge["dateTime"])
    return dt.datetime.fromisoformat(edge["date"]).replace(tzinfo=dt.timezone.utc)


def _overlaps(event: dict, low: dt.datetime, high: dt.datetime) -> bool:
    return _bound(event["start"]) < high and _bound(event["end"]) > low
