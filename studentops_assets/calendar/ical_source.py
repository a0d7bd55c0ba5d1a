"""dlt source for iCal feeds: `raw.ical_events`, one row per event occurrence per student.

Natural key: `<student_id>:<UID>:<occurrence>`, the occurrence being its RECURRENCE-ID (the original
start: a moved occurrence keeps its key) in UTC, or its date for all-day events.

State (dlt resource state, committed with the rows, so a failed run leaves it where it was):
- `feeds`: per feed, the signature of what was last read (reader version, window, content hash) and
  the occurrences it holds, each with its content hash and start/end. A feed whose signature did not
  change is not parsed again: a rerun on the same day with the same input yields nothing.
- `rows`: which feed each loaded row came from, and its content hash. When two feeds of a student
  carry the same UID and occurrence, the first feed (configured feeds in config order, then inbox
  files by path) supplies the row.

Deletion: a row is deleted (a `_deleted` tombstone) only when no feed holds its occurrence any more:
it vanished from a feed that was read completely (inside the window; outside it, only when the whole
UID is gone: see window.py), or its feed was removed from the config or the inbox. A feed that cannot
be fetched or parsed keeps everything it held; so do a truncated file and quarantined events.
A student removed from studentops.yaml keeps their rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import dlt

from studentops_assets.core.quarantine import Issue, QuarantineBatch

from .ical_feeds import FeedContent, FeedSpec, UnmatchedFile
from .ical_reader import READER_VERSION, ParsedFeed, parse_feed
from .window import Window

SOURCE = "ical"

ICAL_COLUMNS: dict[str, dict[str, Any]] = {
    "_natural_key": {"data_type": "text", "nullable": False, "description": "student_id:UID:occurrence"},
    "student_id": {"data_type": "text", "nullable": False, "description": "Configured student (platform users.id)"},
    "feed": {"data_type": "text", "description": "Configured calendar name, or the inbox file name"},
    "feed_kind": {"data_type": "text", "description": "path | url | inbox"},
    "feed_location": {"data_type": "text", "description": "Relative path of the file, or scheme://host of the URL"},
    "uid": {"data_type": "text", "description": "iCalendar UID of the event"},
    "occurrence_id": {"data_type": "text", "description": "Original start of the occurrence (UTC, iCal basic form) or its date"},
    "recurrence_id": {"data_type": "timestamp", "description": "Original start of the occurrence (RECURRENCE-ID), UTC"},
    "starts_at": {"data_type": "timestamp", "description": "Start in UTC (all-day: local midnight)"},
    "ends_at": {"data_type": "timestamp", "description": "End in UTC (all-day: local midnight after the last day)"},
    "is_all_day": {"data_type": "bool", "description": "DTSTART is a DATE (VALUE=DATE)"},
    "start_date": {"data_type": "date", "description": "All-day events: first day"},
    "end_date": {"data_type": "date", "description": "All-day events: day after the last day (exclusive)"},
    "timezone": {"data_type": "text", "description": "TZID of DTSTART as written, 'UTC' for UTC times, null for floating/all-day"},
    "is_recurring": {"data_type": "bool", "description": "Part of a series (RRULE/RDATE or overrides)"},
    "is_override": {"data_type": "bool", "description": "Occurrence replaced by a RECURRENCE-ID component"},
    "rrule": {"data_type": "text", "description": "The series' RRULE as written"},
    "summary": {"data_type": "text", "description": "SUMMARY"},
    "location": {"data_type": "text", "description": "LOCATION"},
    "description": {"data_type": "text", "description": "DESCRIPTION"},
    "status": {"data_type": "text", "description": "STATUS (TENTATIVE, CONFIRMED, CANCELLED)"},
    "transparency": {"data_type": "text", "description": "TRANSP (OPAQUE blocks time, TRANSPARENT does not)"},
    "categories": {"data_type": "json", "description": "CATEGORIES as a list"},
    "sequence": {"data_type": "bigint", "description": "Version marker: SEQUENCE"},
    "last_modified": {"data_type": "timestamp", "description": "Version marker: LAST-MODIFIED, UTC"},
    "content_sha256": {"data_type": "text", "description": "sha256 of the occurrence's fields and record, DTSTAMP excluded"},
    "_record": {"data_type": "json", "description": "The occurrence as jCal (RFC 7265)"},
    "_source": {"data_type": "text", "description": "Always 'ical'"},
    "_loaded_at": {"data_type": "timestamp", "description": "When the run that loaded this version started"},
    "_deleted": {"data_type": "bool", "hard_delete": True, "description": "Tombstone: removes the row"},
}


@dataclass
class ICalReport:
    """What one run did, for the asset's metadata (labels never contain URLs)."""

    feeds: int = 0
    feeds_parsed: int = 0
    feeds_unchanged: int = 0
    failed_feeds: list[str] = field(default_factory=list)
    unmatched_files: list[str] = field(default_factory=list)
    rows_written: int = 0
    rows_deleted: int = 0


def natural_key(student_id: str, uid: str, occurrence: str) -> str:
    return f"{student_id}:{uid}:{occurrence}"


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def _signature(feed: FeedSpec, data: bytes, window: Window) -> str:
    """Everything a feed's rows depend on: when it is unchanged, the feed is not parsed again."""
    described = f"{feed.name}|{feed.kind}|{feed.location}|{feed.timezone}"
    return f"{READER_VERSION}|{window.signature}|{described}|{hashlib.sha256(data).hexdigest()}"


def _digest(feed: FeedSpec, row: dict[str, Any]) -> str:
    """A row's version in state: its content plus the feed columns (a renamed feed rewrites rows)."""
    text = f"{row['content_sha256']}|{feed.name}|{feed.kind}|{feed.location}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _failed(feed: FeedSpec, reason: str, issues: Sequence[Issue], quarantine: QuarantineBatch, report: ICalReport) -> None:
    quarantine.record(feed.student_id, feed.label, [*issues, Issue("feed", f"{reason}; earlier rows kept")])
    report.failed_feeds.append(f"{feed.label}: {reason}")


def _held_occurrences(
    feed: FeedSpec, parsed: ParsedFeed, previous: dict[str, Any] | None, window: Window
) -> dict[str, dict[str, list]]:
    """What a successfully parsed feed holds now: what it produced, plus earlier occurrences that
    must survive (outside the window while their UID is still there; quarantined UIDs; all of a
    partial read)."""
    held: dict[str, dict[str, list]] = {}
    for (uid, occurrence), row in parsed.rows.items():
        held.setdefault(uid, {})[occurrence] = [_digest(feed, row), _iso(row["starts_at"]), _iso(row["ends_at"])]
    for uid, occurrences in (previous or {}).get("events", {}).items():
        keep_all = parsed.partial or uid in parsed.bad_uids
        present = uid in parsed.uids
        for occurrence, entry in occurrences.items():
            if occurrence in held.get(uid, {}):
                continue
            start, end = dt.datetime.fromisoformat(entry[1]), dt.datetime.fromisoformat(entry[2])
            if keep_all or (present and window.excludes(start, end)):
                held.setdefault(uid, {})[occurrence] = entry
    return {uid: dict(sorted(occ.items())) for uid, occ in sorted(held.items())}


def _row(feed: FeedSpec, key: str, row: dict[str, Any], loaded_at: dt.datetime) -> dict[str, Any]:
    return {
        "_natural_key": key,
        "student_id": feed.student_id,
        "feed": feed.name,
        "feed_kind": feed.kind,
        "feed_location": feed.location,
        **row,
        "_source": SOURCE,
        "_loaded_at": loaded_at,
        "_deleted": False,
    }


def read_ical_feeds(
    feeds: Sequence[FeedSpec],
    unmatched: Sequence[UnmatchedFile],
    configured_students: set[str],
    window: Window,
    fetch: Callable[[FeedSpec], FeedContent],
    state: dict[str, Any],
    quarantine: QuarantineBatch,
    loaded_at: dt.datetime,
    report: ICalReport,
) -> Iterator[dict[str, Any]]:
    """Yield new/changed occurrence rows and tombstones; update `state` in place."""
    feed_states: dict[str, dict[str, Any]] = state.setdefault("feeds", {})
    owners: dict[str, list] = state.setdefault("rows", {})
    specs = {feed.feed_id: feed for feed in feeds}
    contents: dict[str, bytes] = {}
    rows_by_feed: dict[str, dict[str, dict[str, Any]]] = {}
    report.feeds = len(feeds)

    def parse(feed: FeedSpec, data: bytes) -> ParsedFeed:
        parsed = parse_feed(data, window, feed.timezone)
        rows_by_feed[feed.feed_id] = {
            natural_key(feed.student_id, uid, occurrence): row for (uid, occurrence), row in parsed.rows.items()
        }
        return parsed

    for feed in feeds:
        previous = feed_states.get(feed.feed_id)
        content = fetch(feed)
        if content.data is None:
            _failed(feed, content.failure or "not read", [], quarantine, report)
            if previous:
                previous["signature"] = None  # read it again once it is back, whatever its content
            continue
        contents[feed.feed_id] = content.data
        signature = _signature(feed, content.data, window)
        if previous and previous.get("signature") == signature:
            report.feeds_unchanged += 1
            continue
        parsed = parse(feed, content.data)
        if parsed.failure:
            _failed(feed, parsed.failure, parsed.issues, quarantine, report)
            rows_by_feed.pop(feed.feed_id, None)
            if previous:
                previous["signature"] = None
            continue
        report.feeds_parsed += 1
        quarantine.record(feed.student_id, feed.label, parsed.issues)
        feed_states[feed.feed_id] = {
            "student_id": feed.student_id,
            "signature": signature,
            "events": _held_occurrences(feed, parsed, previous, window),
        }

    # Feeds gone from the config or the inbox release what they held; a student no longer configured
    # keeps theirs.
    student_of_feed = {fid: fs["student_id"] for fid, fs in feed_states.items()}
    for fid in [fid for fid, fs in feed_states.items() if fid not in specs and fs["student_id"] in configured_students]:
        del feed_states[fid]

    order = [f.feed_id for f in feeds if f.feed_id in feed_states]
    order += sorted(fid for fid in feed_states if fid not in specs)
    desired: dict[str, list] = {}
    for fid in order:
        fs = feed_states[fid]
        for uid, occurrences in fs["events"].items():
            for occurrence, entry in occurrences.items():
                desired.setdefault(natural_key(fs["student_id"], uid, occurrence), [fid, entry[0]])

    for key in sorted(desired):
        fid, digest = desired[key]
        if owners.get(key) == [fid, digest]:
            continue
        feed = specs.get(fid)
        if feed is not None and fid not in rows_by_feed and fid in contents:
            parse(feed, contents[fid])  # an unchanged feed that now supplies a row another feed dropped
        row = rows_by_feed.get(fid, {}).get(key)
        if feed is None or row is None:
            # Only an occurrence outside the window can get here (its new supplier cannot produce it
            # any more): its row stays as loaded.
            continue
        report.rows_written += 1
        yield _row(feed, key, row, loaded_at)

    for key in sorted(set(owners) - set(desired)):
        student_id = student_of_feed.get(owners[key][0]) or key.split(":", 1)[0]
        report.rows_deleted += 1
        yield {"_natural_key": key, "student_id": student_id, "_deleted": True}

    state["rows"] = {key: desired[key] for key in sorted(desired)}

    previously_unmatched = set(state.get("unmatched", []))
    for file in unmatched:
        report.unmatched_files.append(f"{file.label}: {file.reason}")
        if file.label not in previously_unmatched:
            quarantine.record("", file.label, [Issue("file", file.reason)])
    for label in sorted(previously_unmatched - {f.label for f in unmatched}):
        quarantine.record("", label, [])
    state["unmatched"] = sorted(f.label for f in unmatched)


@dlt.source(name=SOURCE, max_table_nesting=0)
def ical_source(
    feeds: Any = (),
    unmatched: Any = (),
    configured_students: Any = (),
    window: Any = None,
    fetch: Any = None,
    quarantine: Any = None,
    loaded_at: Any = None,
    report: Any = None,
    flush_quarantine: Any = None,
):
    """The configured students' iCal feeds, expanded over `window`.

    `flush_quarantine(batch)` runs once every feed was read, before dlt loads (as in the notes source:
    a failed load leaves dlt's state unmoved, and the rerun repeats the same flush).
    """

    @dlt.resource(
        name="ical_events",
        table_name="ical_events",
        primary_key="_natural_key",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=ICAL_COLUMNS,
    )
    def ical_events() -> Iterator[Any]:
        """One row per event occurrence per student, from iCal files, URLs and inbox .ics files."""
        state = dlt.current.resource_state()
        if not state.get("table_created"):
            # Creates raw.ical_events with every column even when the first run has no events.
            state["table_created"] = True
            yield dlt.mark.materialize_table_schema()
        batch = quarantine if quarantine is not None else QuarantineBatch(SOURCE)
        yield from read_ical_feeds(
            feeds,
            unmatched,
            set(configured_students),
            window or Window.around(dt.datetime.now(dt.timezone.utc).date()),
            fetch,
            state,
            batch,
            loaded_at or dt.datetime.now(dt.timezone.utc),
            report if report is not None else ICalReport(),
        )
        if flush_quarantine is not None:
            flush_quarantine(batch)

    return ical_events
