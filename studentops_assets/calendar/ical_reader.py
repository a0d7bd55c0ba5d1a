"""Read one iCalendar feed (RFC 5545) into occurrence rows inside a window, plus the problems found.

icalendar 7 parses, recurring-ical-events 3 expands RRULE/RDATE series, drops EXDATEs and applies
RECURRENCE-ID overrides. Around them this module makes bad input survivable:

- bytes that are not text (NUL bytes), an empty file, or text without BEGIN:VCALENDAR: the feed is
  unusable (`failure`), and the caller keeps the rows it loaded from it before;
- text that is not UTF-8 is read as Windows-1252 (what non-conforming exporters write) and flagged;
- a file cut off before END:VCALENDAR, or a VEVENT icalendar cannot parse: the complete, parsable
  VEVENTs still load; the feed is `partial` (or the UIDs involved are `bad_uids`), so the caller
  deletes nothing on its account;
- a VEVENT without UID or DTSTART, or with a broken DTSTART/DTEND/DURATION/RRULE/RDATE/EXDATE/
  RECURRENCE-ID, is quarantined and the rest of the feed loads; a broken minor property (LAST-MODIFIED,
  SEQUENCE, ...) loads the event without that value and is reported.

Times: a TZID time is converted to UTC and the TZID is kept as written (`timezone`); a UTC time keeps
"UTC"; floating times and all-day dates are placed in the calendar's X-WR-TIMEZONE, else the
student's timezone, and have no `timezone`. All-day events (VALUE=DATE) carry `is_all_day`, their
dates (end exclusive) and local midnights as starts_at/ends_at.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events

from studentops_assets.core.quarantine import Issue

from .window import UTC, Window

# Part of every feed's signature: a change to how rows are built here re-reads unchanged feeds.
READER_VERSION = "1"

# Properties whose damage makes the occurrences of an event unknowable: such an event is quarantined.
_ESSENTIAL = {"UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID"}
_UID_LINE = re.compile(r"^UID[;:](?:[^:\r\n]*:)?(.+)$", re.MULTILINE | re.IGNORECASE)
_SNIPPET_LINES = 8


@dataclass
class ParsedFeed:
    """`rows` maps (uid, occurrence_id) to a row; `uids` are all UIDs present (loaded or not)."""

    rows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    uids: set[str] = field(default_factory=set)
    bad_uids: set[str] = field(default_factory=set)  # present but not (fully) loadable: keep their rows
    partial: bool = False  # some events may be missing from what was read: delete nothing
    issues: list[Issue] = field(default_factory=list)
    failure: str | None = None  # the whole feed is unusable: keep every earlier row


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


def decode(data: bytes) -> tuple[str | None, list[Issue], str | None]:
    """(text, issues, failure)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        return None, [], "binary file, not an iCalendar text file"
    if not data.strip():
        return None, [], "empty file"
    try:
        text = data.decode("utf-8")
        issues: list[Issue] = []
    except UnicodeDecodeError as exc:
        text = data.decode("cp1252", errors="replace")
        issues = [Issue("file", f"not UTF-8 (byte {exc.start}); RFC 5545 requires UTF-8, read as Windows-1252")]
    if "BEGIN:VCALENDAR" not in text.upper():
        return None, issues, "not an iCalendar file (no BEGIN:VCALENDAR)"
    return text, issues, None


def _snippet(text: str) -> str:
    return "\n".join(text.strip().splitlines()[:_SNIPPET_LINES])


def _split_events(text: str) -> tuple[str, list[tuple[int, str, bool]]]:
    """The text outside VEVENT blocks, and each block as (first line number, text, complete)."""
    header: list[str] = []
    blocks: list[tuple[int, str, bool]] = []
    current: list[str] | None = None
    first = 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        tag = line.strip().upper()
        if current is None:
            if tag == "BEGIN:VEVENT":
                current, first = [line], number
            else:
                header.append(line)
        else:
            current.append(line)
            if tag == "END:VEVENT":
                blocks.append((first, "".join(current), True))
                current = None
    if current is not None:
        blocks.append((first, "".join(current), False))
    return "".join(header), blocks


def _unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]", "", text)


def _is_truncated(text: str) -> bool:
    lines = [line.strip().upper() for line in text.splitlines() if line.strip()]
    return not lines or lines[-1] != "END:VCALENDAR" or lines.count("BEGIN:VCALENDAR") != lines.count("END:VCALENDAR")


def _salvage(text: str, result: ParsedFeed, truncated: bool) -> list[icalendar.Calendar]:
    """Parse event by event: the calendar frame (with its VTIMEZONEs) first, then each VEVENT alone."""
    header, blocks = _split_events(text)
    if truncated:
        result.partial = True
        result.issues.append(Issue("file", "truncated: no END:VCALENDAR at the end; the complete events "
                                           "were loaded and nothing was deleted"))
    frame_text = header if header.strip().upper().endswith("END:VCALENDAR") else header.rstrip() + "\r\nEND:VCALENDAR\r\n"
    try:
        frames = icalendar.Calendar.from_ical(frame_text, multiple=True)
    except Exception as exc:  # icalendar raises ValueError and friends for malformed content lines
        result.failure = f"not parsable: {exc}"
        return []
    if not frames:
        result.failure = "not parsable: no complete VCALENDAR"
        return []
    frame = frames[0]
    for extra in frames[1:]:
        for tz in extra.walk("VTIMEZONE"):
            frame.add_component(tz)
    for line, block, complete in blocks:
        uid_match = _UID_LINE.search(_unfold(block))
        uid = uid_match.group(1).strip() if uid_match else None
        if not complete:
            # The cut-off event: its earlier rows stay (it may be intact in the source).
            if uid:
                result.uids.add(uid)
                result.bad_uids.add(uid)
            continue
        try:
            parsed = icalendar.Calendar.from_ical(f"BEGIN:VCALENDAR\r\n{block}END:VCALENDAR\r\n")
            event = parsed.walk("VEVENT")[0]
        except Exception as exc:
            where = f"line {line}" + (f" (UID {uid})" if uid else "")
            result.issues.append(Issue(where, f"VEVENT not parsable: {exc}", _snippet(block)))
            if uid:
                result.uids.add(uid)
                result.bad_uids.add(uid)
            else:
                result.partial = True
            continue
        frame.add_component(event)
    return [frame]


def _calendars(text: str, result: ParsedFeed) -> list[icalendar.Calendar]:
    truncated = _is_truncated(text)
    if not truncated:
        try:
            calendars = icalendar.Calendar.from_ical(text, multiple=True)
            if calendars:
                return calendars
            # Mismatched BEGIN/END inside makes icalendar return nothing at all.
        except Exception:
            pass  # some malformed lines fail the whole parse
    return _salvage(text, result, truncated)


def _describe(event: icalendar.Event, index: int) -> str:
    uid = str(event.get("UID") or "").strip()
    return f"VEVENT #{index}" + (f" (UID {uid})" if uid else "")


def _validate(event: icalendar.Event, index: int, result: ParsedFeed) -> bool:
    """Quarantine the event if its identity or timing is unusable; report broken minor properties."""
    uid = str(event.get("UID") or "").strip()
    where = _describe(event, index)

    def snippet() -> str:
        return _snippet(event.to_ical().decode("utf-8", errors="replace"))

    if uid:
        result.uids.add(uid)
    if not uid:
        result.issues.append(Issue(where, "VEVENT has no UID: it cannot be identified, not loaded", snippet()))
        return False
    # icalendar collects what it could not parse instead of raising; a nameless error is a content
    # line without a property name.
    broken = {(name or "content line").upper(): message for name, message in event.errors}
    essential = sorted(set(broken) & _ESSENTIAL)
    reason = None
    if "DTSTART" not in event:
        reason = "VEVENT has no DTSTART, not loaded"
    elif essential:
        reason = "; ".join(f"{name} not valid ({broken[name]})" for name in essential) + ", not loaded"
    else:
        try:
            event.start  # noqa: B018 - validates DTSTART/DTEND/DURATION together
            event.end  # noqa: B018
        except Exception as exc:
            reason = f"start/end not usable ({exc}), not loaded"
    if reason:
        result.issues.append(Issue(where, reason, snippet()))
        result.bad_uids.add(uid)
        return False
    for name in sorted(set(broken) - _ESSENTIAL):
        result.issues.append(Issue(where, f"{name} not valid ({broken[name]}); loaded without it", snippet()))
        # The expander compares properties such as SEQUENCE: a broken value would fail the series.
        if name in event:
            del event[name]
    return True


def _to_utc(value: dt.date, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)
    return dt.datetime.combine(value, dt.time(0), tzinfo=zone).astimezone(UTC)


def occurrence_id(value: dt.date, zone: ZoneInfo) -> str:
    """The occurrence part of the natural key: its original start in UTC (iCal basic form), or its date."""
    if isinstance(value, dt.datetime):
        return _to_utc(value, zone).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _safe(getter, default=None):
    try:
        return getter()
    except Exception:  # a broken minor property was reported by _validate; the value is just absent
        return default


def _timezone_name(event: icalendar.Event) -> str | None:
    prop = event.get("DTSTART")
    tzid = prop.params.get("TZID") if prop is not None else None
    if tzid:
        return str(tzid)
    value = prop.dt if prop is not None else None
    if isinstance(value, dt.datetime) and value.tzinfo is not None and value.utcoffset() == dt.timedelta(0):
        return "UTC"
    return None


def _text(event: icalendar.Event, name: str) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _categories(event: icalendar.Event) -> list[str]:
    return [str(c).strip() for c in _safe(lambda: event.categories, []) if str(c).strip()]


def _jcal(event: icalendar.Event) -> Any:
    return json.loads(json.dumps(event.to_jcal(), default=str))


def _row(occ: icalendar.Event, zone: ZoneInfo, series: "_Series") -> dict[str, Any]:
    start, end = occ.start, occ.end
    rid = occ.get("RECURRENCE-ID")
    original = rid.dt if rid is not None else start
    occ_id = occurrence_id(original, zone)
    all_day = not isinstance(start, dt.datetime)
    record = _jcal(occ)
    row = {
        "uid": series.uid,
        "occurrence_id": occ_id,
        "recurrence_id": _to_utc(original, zone),
        "starts_at": _to_utc(start, zone),
        "ends_at": _to_utc(end, zone),
        "is_all_day": all_day,
        "start_date": start if all_day else None,
        "end_date": end if all_day else None,
        "timezone": None if all_day else _timezone_name(occ),
        "is_recurring": series.recurring,
        "is_override": occ_id in series.overrides,
        "rrule": series.rrule,
        "summary": _text(occ, "SUMMARY"),
        "location": _text(occ, "LOCATION"),
        "description": _text(occ, "DESCRIPTION"),
        "status": (_text(occ, "STATUS") or "").upper() or None,
        "transparency": (_text(occ, "TRANSP") or "").upper() or None,
        "categories": _categories(occ),
        "sequence": _safe(lambda: int(occ["SEQUENCE"])) if "SEQUENCE" in occ else None,
        "last_modified": _safe(lambda: _to_utc(occ["LAST-MODIFIED"].dt, zone)) if "LAST-MODIFIED" in occ else None,
    }
    # DTSTAMP is when the feed was generated (many servers stamp every download): it is kept in the
    # record but is no change of the event.
    versioned = dict(row)
    versioned["_record"] = [record[0], [p for p in record[1] if p[0] != "dtstamp"], record[2]]
    row["content_sha256"] = hashlib.sha256(json.dumps(versioned, sort_keys=True, default=str).encode()).hexdigest()
    row["_record"] = {"jcal": record}
    return row


@dataclass
class _Series:
    uid: str
    components: list[icalendar.Event] = field(default_factory=list)
    overrides: set[str] = field(default_factory=set)
    recurring: bool = False
    rrule: str | None = None


def _newer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Of two rows for one occurrence (duplicated UIDs across VCALENDARs), the later revision wins."""
    def rank(row):
        return (row["sequence"] or 0, row["last_modified"] or dt.datetime.min.replace(tzinfo=UTC))
    return rank(a) > rank(b)


def _expand(timezones: list, components: list[icalendar.Event], window: Window) -> list[icalendar.Event]:
    calendar = icalendar.Calendar()
    for component in [*timezones, *components]:
        calendar.add_component(component)
    return list(recurring_ical_events.of(calendar).between(window.start, window.end))


def _occurrences(
    timezones: list, series: dict[str, "_Series"], window: Window, result: ParsedFeed
) -> Iterator[tuple["_Series", icalendar.Event]]:
    """Expand every series in one pass; if the expander rejects one, expand series by series so only
    the rejected one is quarantined."""
    try:
        occurrences = _expand(timezones, [c for s in series.values() for c in s.components], window)
        for occ in occurrences:
            yield series[str(occ["UID"]).strip()], occ
        return
    except Exception:  # noqa: BLE001 - isolated below, with the reason recorded per series
        pass
    for uid, one in series.items():
        try:
            occurrences = _expand(timezones, one.components, window)
        except Exception as exc:  # inconsistent rules, unknown zones, ...
            result.issues.append(Issue(f"UID {uid}", f"recurrence not expandable ({type(exc).__name__}: {exc}), not loaded"))
            result.bad_uids.add(uid)
            continue
        for occ in occurrences:
            yield one, occ


def parse_feed(data: bytes, window: Window, student_timezone: str) -> ParsedFeed:
    """All VEVENT occurrences of the feed that overlap `window`."""
    result = ParsedFeed()
    text, issues, failure = decode(data)
    result.issues.extend(issues)
    if failure:
        result.failure = failure
        return result
    calendars = _calendars(text, result)
    if result.failure:
        return result
    if not calendars:
        result.failure = "not parsable: no complete VCALENDAR"
        return result
    index = 0
    for calendar in calendars:
        zone = _zone(calendar.get("X-WR-TIMEZONE")) or _zone(student_timezone) or ZoneInfo("UTC")
        by_uid: dict[str, _Series] = {}
        for event in calendar.walk("VEVENT"):
            index += 1
            if not _validate(event, index, result):
                continue
            uid = str(event["UID"]).strip()
            series = by_uid.setdefault(uid, _Series(uid))
            series.components.append(event)
            if "RECURRENCE-ID" in event:
                series.recurring = True
                series.overrides.add(occurrence_id(event["RECURRENCE-ID"].dt, zone))
            elif "RRULE" in event or "RDATE" in event:
                series.recurring = True
                rules = event.get("RRULE")
                rules = rules if isinstance(rules, list) else [rules] if rules is not None else []
                series.rrule = "\n".join(r.to_ical().decode() for r in rules) or None
        # A series with a quarantined part is not expanded: the rest would be misplaced.
        good = {uid: series for uid, series in by_uid.items() if uid not in result.bad_uids}
        timezones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
        for series, occ in _occurrences(timezones, good, window, result):
            try:
                row = _row(occ, zone, series)
            except Exception as exc:  # a value the expander accepted but cannot be converted
                result.issues.append(Issue(f"UID {series.uid}", f"occurrence not readable ({exc}), not loaded"))
                result.bad_uids.add(series.uid)
                continue
            key = (series.uid, row["occurrence_id"])
            if key not in result.rows or _newer(row, result.rows[key]):
                result.rows[key] = row
    for key in [k for k in result.rows if k[0] in result.bad_uids]:
        del result.rows[key]
    return result
