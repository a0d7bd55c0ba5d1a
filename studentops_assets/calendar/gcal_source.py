"""dlt source for Google Calendar: `raw.gcal_events`, one row per event instance per student calendar.

Sync as Google documents it (developers.google.com/calendar/api/guides/sync):
- full sync: `events.list` with singleEvents=true between timeMin/timeMax (the window, window.py),
  every page; its last page carries `nextSyncToken`;
- incremental sync: the same query with `syncToken` instead of the time bounds (Google rejects
  both together); it returns what changed since, deletions as `status: cancelled`;
- 410 Gone: the token expired; it is dropped and a full sync runs, after which every held event that
  the full sync did not return (inside the window; see window.py for outside) is deleted.
Incremental changes are applied wherever they fall, also outside the window: skipping one would lose
it for good, since the token moves past it.

The sync token lives in dlt resource state and is written only after the last page was read, so it
is committed in the same load as the rows of every page; a run that fails part-way (after retries)
leaves the old token, and the rerun reads the same changes again. Rows already written are then
rewritten identically (merge on the natural key): nothing is lost or duplicated. Per event the state
keeps a content hash, so an unchanged event is never rewritten.

Natural key: `<student_id>:<calendar_id>:<event id>` (with singleEvents each instance of a recurring
event has its own id).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dlt

from studentops_assets.core.quarantine import Issue, QuarantineBatch

from .gcal_client import GoogleApiError, GoogleCalendarClient, SyncTokenExpired
from .window import UTC, Window

SOURCE = "gcal"
_SNIPPET_KEYS = ("id", "status", "summary", "start", "end", "updated")

GCAL_COLUMNS: dict[str, dict[str, Any]] = {
    "_natural_key": {"data_type": "text", "nullable": False, "description": "student_id:calendar_id:event id"},
    "student_id": {"data_type": "text", "nullable": False, "description": "Configured student (platform users.id)"},
    "calendar_id": {"data_type": "text", "description": "Google calendar id as configured (e.g. primary)"},
    "event_id": {"data_type": "text", "description": "Google event id (an instance id for recurring events)"},
    "ical_uid": {"data_type": "text", "description": "iCalUID (shared by all instances of a series)"},
    "status": {"data_type": "text", "description": "confirmed | tentative"},
    "summary": {"data_type": "text", "description": "Title"},
    "description": {"data_type": "text", "description": "Description"},
    "location": {"data_type": "text", "description": "Location"},
    "starts_at": {"data_type": "timestamp", "description": "Start in UTC (all-day: local midnight)"},
    "ends_at": {"data_type": "timestamp", "description": "End in UTC (all-day: local midnight after the last day)"},
    "is_all_day": {"data_type": "bool", "description": "start has a date, not a dateTime"},
    "start_date": {"data_type": "date", "description": "All-day events: first day"},
    "end_date": {"data_type": "date", "description": "All-day events: day after the last day (exclusive)"},
    "timezone": {"data_type": "text", "description": "start.timeZone, else the calendar's time zone"},
    "recurring_event_id": {"data_type": "text", "description": "Id of the series this instance belongs to"},
    "original_start_at": {"data_type": "timestamp", "description": "originalStartTime of an instance, UTC"},
    "transparency": {"data_type": "text", "description": "opaque | transparent"},
    "event_type": {"data_type": "text", "description": "eventType (default, focusTime, outOfOffice, ...)"},
    "sequence": {"data_type": "bigint", "description": "iCalendar SEQUENCE"},
    "etag": {"data_type": "text", "description": "Version marker: the event's ETag"},
    "source_updated_at": {"data_type": "timestamp", "description": "Version marker: `updated`, UTC"},
    "source_created_at": {"data_type": "timestamp", "description": "`created`, UTC"},
    "_record": {"data_type": "json", "description": "The event resource as returned by the API"},
    "_source": {"data_type": "text", "description": "Always 'gcal'"},
    "_loaded_at": {"data_type": "timestamp", "description": "When the run that loaded this version started"},
    "_deleted": {"data_type": "bool", "hard_delete": True, "description": "Tombstone: removes the row"},
}


@dataclass(frozen=True)
class CalendarTarget:
    """One student's Google calendar; `client` is None when it is not configured (`reason` says why)."""

    student_id: str
    slug: str
    calendar_id: str | None
    timezone: str
    client: GoogleCalendarClient | None = None
    reason: str | None = None

    @property
    def state_key(self) -> str:
        return f"{self.student_id}:{self.calendar_id}"


@dataclass
class GcalReport:
    """What one run did per student (slug -> outcome), for the asset's metadata."""

    outcomes: dict[str, str] = field(default_factory=dict)
    rows_written: int = 0
    rows_deleted: int = 0
    failures: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # slug -> why its sync failed (no secrets)


def refused(reason: str) -> bool:
    """A failure Google will repeat on a retry: a 4xx other than 429 (a revoked grant, a refused client,
    a calendar the token cannot read), as opposed to 5xx, 429 and network failures."""
    match = re.search(r"HTTP (\d{3})", reason)
    return bool(match) and 400 <= int(match.group(1)) < 500 and match.group(1) != "429"


class _BadEvent(ValueError):
    pass


def _instant(value: Any, zone: ZoneInfo) -> tuple[dt.datetime, dt.date | None]:
    """(UTC instant, date or None) of a Google `{dateTime, timeZone}` or `{date}` object."""
    if not isinstance(value, dict):
        raise _BadEvent("no start/end")
    if value.get("dateTime"):
        parsed = dt.datetime.fromisoformat(str(value["dateTime"]))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_zone(value.get("timeZone")) or zone)
        return parsed.astimezone(UTC), None
    if value.get("date"):
        day = dt.date.fromisoformat(str(value["date"]))
        return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(UTC), day
    raise _BadEvent("start/end has neither dateTime nor date")


def _zone(name: Any) -> ZoneInfo | None:
    try:
        return ZoneInfo(str(name)) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _timestamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value)).astimezone(UTC)
    except ValueError:
        return None


def event_row(item: dict[str, Any], target: CalendarTarget, calendar_zone: str | None, loaded_at: dt.datetime) -> dict[str, Any]:
    zone = _zone(calendar_zone) or _zone(target.timezone) or ZoneInfo("UTC")
    try:
        starts_at, start_date = _instant(item.get("start"), zone)
        ends_at, end_date = _instant(item.get("end"), zone)
        original = _instant(item["originalStartTime"], zone)[0] if item.get("originalStartTime") else None
    except _BadEvent:
        raise
    except (ValueError, TypeError) as exc:
        raise _BadEvent(f"start/end not usable ({exc})") from None
    start = item.get("start") or {}
    return {
        "_natural_key": f"{target.student_id}:{target.calendar_id}:{item['id']}",
        "student_id": target.student_id,
        "calendar_id": target.calendar_id,
        "event_id": str(item["id"]),
        "ical_uid": item.get("iCalUID"),
        "status": item.get("status"),
        "summary": item.get("summary"),
        "description": item.get("description"),
        "location": item.get("location"),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "is_all_day": start_date is not None,
        "start_date": start_date,
        "end_date": end_date,
        "timezone": start.get("timeZone") or calendar_zone,
        "recurring_event_id": item.get("recurringEventId"),
        "original_start_at": original,
        "transparency": item.get("transparency") or "opaque",
        "event_type": item.get("eventType") or "default",
        "sequence": item["sequence"] if isinstance(item.get("sequence"), int) else None,
        "etag": item.get("etag"),
        "source_updated_at": _timestamp(item.get("updated")),
        "source_created_at": _timestamp(item.get("created")),
        "_record": item,
        "_source": SOURCE,
        "_loaded_at": loaded_at,
        "_deleted": False,
    }


def _digest(item: dict[str, Any], calendar_zone: str | None) -> str:
    text = json.dumps([item, calendar_zone], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _snippet(item: Any) -> str:
    shown = {k: item.get(k) for k in _SNIPPET_KEYS if k in item} if isinstance(item, dict) else item
    return json.dumps(shown, sort_keys=True, default=str)


class _CalendarSync:
    """One calendar's sync against its slice of resource state."""

    def __init__(self, target: CalendarTarget, state: dict[str, Any], window: Window,
                 quarantine: QuarantineBatch, loaded_at: dt.datetime, report: GcalReport):
        self.target, self.state, self.window = target, state, window
        self.quarantine, self.loaded_at, self.report = quarantine, loaded_at, report
        self.events: dict[str, list] = state.setdefault("events", {})
        self.flagged: set[str] = set(state.get("quarantined", []))
        self.label = f"calendar:{target.calendar_id}"

    def _event_label(self, event_id: str) -> str:
        return f"{self.label}/event:{event_id}"

    def _tombstone(self, event_id: str) -> dict[str, Any]:
        del self.events[event_id]
        self.report.rows_deleted += 1
        return {"_natural_key": f"{self.target.student_id}:{self.target.calendar_id}:{event_id}",
                "student_id": self.target.student_id, "_deleted": True}

    def _apply(self, pages: Iterator[dict[str, Any]], seen: set[str] | None) -> Iterator[dict[str, Any]]:
        """Yield the rows of every page; return the final page's nextSyncToken."""
        sync_token = None
        for page in pages:
            calendar_zone = page.get("timeZone")
            for item in page.get("items") or []:
                event_id = item.get("id") if isinstance(item, dict) else None
                if not event_id:
                    self.quarantine.record(self.target.student_id, f"{self.label}/event:?",
                                           [Issue("item", "event without id, not loaded", _snippet(item))])
                    continue
                event_id = str(event_id)
                if seen is not None:
                    seen.add(event_id)
                if item.get("status") == "cancelled":
                    if event_id in self.flagged:
                        self.quarantine.record(self.target.student_id, self._event_label(event_id), [])
                        self.flagged.discard(event_id)
                    if event_id in self.events:
                        yield self._tombstone(event_id)
                    continue
                digest = _digest(item, calendar_zone)
                if self.events.get(event_id, [None])[0] == digest:
                    continue
                try:
                    row = event_row(item, self.target, calendar_zone, self.loaded_at)
                except _BadEvent as exc:
                    self.quarantine.record(self.target.student_id, self._event_label(event_id),
                                           [Issue("event", f"{exc}, not loaded", _snippet(item))])
                    self.flagged.add(event_id)
                    continue
                if event_id in self.flagged:
                    self.quarantine.record(self.target.student_id, self._event_label(event_id), [])
                    self.flagged.discard(event_id)
                self.events[event_id] = [digest, row["starts_at"].isoformat(), row["ends_at"].isoformat()]
                self.report.rows_written += 1
                yield row
            sync_token = page.get("nextSyncToken") or sync_token
        return sync_token

    def _full(self, client: GoogleCalendarClient) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        pages = client.event_pages(self.target.calendar_id, {
            "singleEvents": "true",
            "timeMin": _rfc3339(self.window.start),
            "timeMax": _rfc3339(self.window.end),
        })
        token = yield from self._apply(pages, seen)
        for event_id in sorted(set(self.events) - seen):
            _, start, end = self.events[event_id]
            if not self.window.excludes(dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)):
                yield self._tombstone(event_id)
        return token

    def run(self) -> Iterator[dict[str, Any]]:
        client = self.target.client
        assert client is not None
        token = self.state.get("sync_token")
        mode = "incremental sync"
        written, deleted = self.report.rows_written, self.report.rows_deleted
        try:
            new_token = None
            if token:
                try:
                    pages = client.event_pages(self.target.calendar_id, {"singleEvents": "true", "syncToken": token})
                    new_token = yield from self._apply(pages, None)
                except SyncTokenExpired:
                    token = None
                    mode = "full resync (sync token expired, 410)"
            if not token:
                mode = mode if mode.startswith("full") else "full sync"
                new_token = yield from self._full(client)
        except GoogleApiError as exc:
            self.report.failures += 1
            self.report.failed[self.target.slug] = str(exc)
            self.report.outcomes[self.target.slug] = f"failed: {exc}; sync token not advanced"
            self.quarantine.record(self.target.student_id, self.label,
                                   [Issue("sync", f"{exc}; sync token not advanced, earlier rows kept")])
            self.state["failing"] = True
            self.state["quarantined"] = sorted(self.flagged)
            return
        # Only now, after every page: the token is committed with the rows of all pages.
        self.state["sync_token"] = new_token
        self.state["quarantined"] = sorted(self.flagged)
        if self.state.pop("failing", False):
            self.quarantine.record(self.target.student_id, self.label, [])
        self.report.outcomes[self.target.slug] = (
            f"{mode}: {self.report.rows_written - written} written, {self.report.rows_deleted - deleted} deleted"
            + ("" if new_token else "; no nextSyncToken returned, next run syncs fully")
        )


def read_google_calendars(
    targets: Sequence[CalendarTarget],
    state: dict[str, Any],
    window: Window,
    quarantine: QuarantineBatch,
    loaded_at: dt.datetime,
    report: GcalReport,
) -> Iterator[dict[str, Any]]:
    calendars: dict[str, Any] = state.setdefault("calendars", {})
    for target in targets:
        if target.client is None:
            report.outcomes[target.slug] = f"not configured: {target.reason}"
            continue
        yield from _CalendarSync(target, calendars.setdefault(target.state_key, {}), window, quarantine,
                                 loaded_at, report).run()


@dlt.source(name=SOURCE, max_table_nesting=0)
def gcal_source(
    targets: Any = (),
    window: Any = None,
    quarantine: Any = None,
    loaded_at: Any = None,
    report: Any = None,
    flush_quarantine: Any = None,
):
    """The configured students' Google calendars (see the module docstring for the sync)."""

    @dlt.resource(
        name="gcal_events",
        table_name="gcal_events",
        primary_key="_natural_key",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=GCAL_COLUMNS,
    )
    def gcal_events() -> Iterator[Any]:
        """One row per Google Calendar event instance per student calendar."""
        state = dlt.current.resource_state()
        if not state.get("table_created"):
            state["table_created"] = True
            yield dlt.mark.materialize_table_schema()
        batch = quarantine if quarantine is not None else QuarantineBatch(SOURCE)
        yield from read_google_calendars(
            targets,
            state,
            window or Window.around(dt.datetime.now(dt.timezone.utc).date()),
            batch,
            loaded_at or dt.datetime.now(dt.timezone.utc),
            report if report is not None else GcalReport(),
        )
        if flush_quarantine is not None:
            flush_quarantine(batch)

    return gcal_events
