"""raw/ical_events over a sequence of runs: a feed URL that fails in every way keeps yesterday's rows,
EXDATE/override/removal edits delete and rewrite exactly the affected occurrences, the window moves
with the run date (occurrences that slide out are kept), a truncated file deletes nothing, a UID that
appears in two feeds is loaded once, and a removed inbox file takes its rows with it.

The steps run in file order against one warehouse; each asserts the table contents it leads to."""

from __future__ import annotations

import datetime as dt

import pytest

from studentops_assets.calendar.assets import raw_ical_events
from studentops_assets.demo.calendars import VTIMEZONE

from .helpers import FeedServer, Route, fingerprint, materialise, quarantine, query, raw_tables, serving
from .ics import vcalendar, vevent

ADA = "ada-0001"
UTC = dt.timezone.utc
FEED = "/cal/uni.ics"
FAST_FAILURE = {"feed_timeout_seconds": 0.5, "feed_max_attempts": 2, "feed_backoff_factor": 0}
DAY1 = {"as_of": "2026-03-02", "past_days": 30, "future_days": 60, **FAST_FAILURE}  # 2026-01-31 .. 2026-05-01
DAY22 = {**DAY1, "as_of": "2026-03-23"}  # 2026-02-21 .. 2026-05-22


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def lecture_series(*extra: str, sequence: int = 0) -> list[str]:
    # Mondays 10:00 Amsterdam from 2 February 2026, 20 times (to 15 June).
    return vevent("lec", ";TZID=Europe/Amsterdam:20260202T100000", "Lecture",
                  "RRULE:FREQ=WEEKLY;COUNT=20", f"SEQUENCE:{sequence}", *extra,
                  dtend=";TZID=Europe/Amsterdam:20260202T114500")


def uni_v1() -> bytes:
    return vcalendar(lecture_series(), vevent("talk", "20260310T150000Z", "Guest talk", dtend="20260310T160000Z"),
                     header=VTIMEZONE).encode()


def uni_v2() -> bytes:
    moved = vevent("lec", ";TZID=Europe/Amsterdam:20260317T110000", "Lecture (moved)",
                   "RECURRENCE-ID;TZID=Europe/Amsterdam:20260316T100000", "SEQUENCE:1",
                   dtend=";TZID=Europe/Amsterdam:20260317T124500")
    return vcalendar(lecture_series("EXDATE;TZID=Europe/Amsterdam:20260309T100000", sequence=1), moved,
                     header=VTIMEZONE).encode()


def own_calendar(*uids: str) -> str:
    events = {
        "own-a": vevent("own-a", "20260305T080000Z", "Own A", dtend="20260305T090000Z"),
        "own-b": vevent("own-b", "20260306T080000Z", "Own B", dtend="20260306T090000Z"),
        "shared": vevent("shared", "20260307T080000Z", "Shared (own copy)", dtend="20260307T090000Z"),
    }
    return vcalendar(*(events[u] for u in uids))


@pytest.fixture(scope="module")
def env(new_home):
    server = FeedServer()
    server.routes[FEED] = Route(body=uni_v1())
    with serving(server):
        home, warehouse = new_home(students=[{"id": ADA, "slug": "ada", "calendars": [
            {"name": "uni", "url": server.url(FEED)},
            {"name": "own", "path": "calendars/own.ics"},
        ]}])
        (home.path / "calendars").mkdir()
        (home.path / "inbox").mkdir()
        yield home, warehouse, server


def lectures(warehouse) -> list[tuple]:
    return query(warehouse, """
        select occurrence_id, starts_at, summary, is_override from raw.ical_events
        where uid = 'lec' order by occurrence_id""")


def keys(warehouse) -> list[str]:
    return [k for (k,) in query(warehouse, "select uid || '@' || occurrence_id from raw.ical_events order by 1")]


def mondays(first: dt.date, count: int, hour_utc=None) -> list[str]:
    out = []
    for i in range(count):
        day = first + dt.timedelta(weeks=i)
        hour = hour_utc or (9 if day < dt.date(2026, 3, 29) else 8)  # CET, then CEST
        out.append(f"lec@{day:%Y%m%d}T{hour:02d}0000Z")
    return out


def test_1_first_load(env):
    home, warehouse, server = env
    (home.path / "calendars/own.ics").write_text(own_calendar("own-a", "own-b", "shared"), newline="")
    (home.path / "inbox/phone-ada-export.ics").write_text(
        vcalendar(vevent("shared", "20260307T080000Z", "Shared (phone copy)", dtend="20260307T090000Z"),
                  vevent("phone-only", "20260308T080000Z", "Phone only", dtend="20260308T090000Z")), newline="")
    run = materialise(raw_ical_events, warehouse, DAY1)
    # 2 Feb .. 27 Apr: 13 Mondays inside the window.
    assert keys(warehouse) == sorted(
        mondays(dt.date(2026, 2, 2), 13)
        + ["own-a@20260305T080000Z", "own-b@20260306T080000Z", "phone-only@20260308T080000Z",
           "shared@20260307T080000Z", "talk@20260310T150000Z"])
    # The UID in two feeds is loaded once, from the configured feed.
    assert query(warehouse, "select feed, summary from raw.ical_events where uid = 'shared'") == [("own", "Shared (own copy)")]
    assert run.meta("rows_written") == 18 and quarantine(warehouse, "ical") == []


def test_2_failing_feed_keeps_yesterdays_rows(env):
    home, warehouse, server = env
    before = fingerprint(warehouse, raw_tables(warehouse))
    failures = [
        (Route(500, b"oops"), "feed not fetched: HTTP 500 Internal Server Error"),
        (Route(404, b"gone"), "feed not fetched: HTTP 404 Not Found"),
        (Route(body=uni_v1(), delay=2.0), "feed not fetched: timed out after retries"),
        (Route(body=b"<html><body>Sign in to see this calendar</body></html>"),
         "not an iCalendar file (no BEGIN:VCALENDAR)"),
        (Route(body=b""), "empty file"),
    ]
    for route, reason in failures:
        server.routes[FEED] = route
        run = materialise(raw_ical_events, warehouse, DAY1, raise_on_error=False)
        assert quarantine(warehouse, "ical") == [(ADA, "feed:uni", "feed", f"{reason}; earlier rows kept")]
        if reason.startswith("feed not fetched"):
            # An outage is red: the step fails naming the feed (never its URL).
            assert not run.result.success
            (failure,) = [e for e in run.result.all_events if e.event_type_value == "STEP_FAILURE"]
            assert failure.step_failure_data.user_failure_data.description.startswith(
                f"iCal feed unavailable: feed:uni: {reason}")
        else:
            # A feed that answers with something that is not a calendar is a data problem: quarantined.
            assert run.result.success
            assert run.meta("feeds_failed") == 1 and run.meta("rows_deleted") == 0
        # The data did not move (dlt's state did, once: the feed is marked to be read again when back).
        assert fingerprint(warehouse, ('raw."ical_events"',)) == {'raw."ical_events"': before['raw."ical_events"']}
    # 500s and timeouts were retried (two attempts per run), a 404 was not.
    # The loader's RetryPolicy ran the step 3 more times after a 500 or a timeout (not after a 404).
    assert server.hits[FEED] == 1 + 2 * 4 + 1 + 2 * 4 + 1 + 1


def test_3_edits_delete_and_rewrite_exactly_the_affected_occurrences(env):
    home, warehouse, server = env
    server.routes[FEED] = Route(body=uni_v2())
    (loaded_before,), = query(warehouse, "select _loaded_at from raw.ical_events where uid = 'own-a'")
    run = materialise(raw_ical_events, warehouse, DAY1)
    got = keys(warehouse)
    assert "lec@20260309T090000Z" not in got  # EXDATE
    assert "talk@20260310T150000Z" not in got  # removed from the feed
    assert len([k for k in got if k.startswith("lec@")]) == 12
    assert (
        "20260316T090000Z", utc(2026, 3, 17, 10), "Lecture (moved)", True
    ) in lectures(warehouse)
    assert run.meta("rows_deleted") == 2
    # The feed is back: its quarantine row is gone. Rows of unchanged feeds were not rewritten.
    assert quarantine(warehouse, "ical") == []
    assert query(warehouse, "select _loaded_at from raw.ical_events where uid = 'own-a'") == [(loaded_before,)]


def test_4_the_window_moves_and_a_same_day_rerun_changes_nothing(env):
    home, warehouse, server = env
    materialise(raw_ical_events, warehouse, DAY22)
    got = [k for k in keys(warehouse) if k.startswith("lec@")]
    # 2, 9 and 16 February slid out of the window (it starts 21 February): kept as history. 9 March is
    # excluded, 16 March moved; 4, 11 and 18 May entered the window.
    assert got == sorted(
        mondays(dt.date(2026, 2, 2), 5) + [m for m in mondays(dt.date(2026, 3, 9), 11) if "20260309" not in m]
    )
    before = fingerprint(warehouse, raw_tables(warehouse))
    run = materialise(raw_ical_events, warehouse, DAY22)
    assert run.meta("rows_written") == 0 and run.meta("rows_deleted") == 0
    assert fingerprint(warehouse, raw_tables(warehouse)) == before


def test_5_a_truncated_file_loads_its_complete_events_and_deletes_nothing(env):
    home, warehouse, server = env
    own = home.path / "calendars/own.ics"
    text = own_calendar("own-a", "own-b", "shared").replace("Own A", "Own A, edited")
    own.write_text(text[: text.index("UID:own-b")], newline="")  # cut inside the second event
    materialise(raw_ical_events, warehouse, DAY22)
    assert query(warehouse, "select uid, summary from raw.ical_events where feed = 'own' order by uid") == [
        ("own-a", "Own A, edited"), ("own-b", "Own B"), ("shared", "Shared (own copy)")]
    (issue,) = quarantine(warehouse, "ical")
    assert issue[1:3] == ("calendars/own.ics", "file") and issue[3].startswith("truncated")


def test_6_a_row_supplied_by_two_feeds_survives_the_loss_of_one(env):
    home, warehouse, server = env
    (home.path / "calendars/own.ics").write_text(own_calendar("own-a", "own-b"), newline="")
    materialise(raw_ical_events, warehouse, DAY22)
    # The inbox file did not change (not re-read until now): its copy of `shared` takes over.
    assert query(warehouse, "select feed, summary from raw.ical_events where uid = 'shared'") == [
        ("phone-ada-export.ics", "Shared (phone copy)")]
    assert quarantine(warehouse, "ical") == []


def test_7_removed_uid_and_removed_inbox_file_delete_all_their_rows(env):
    home, warehouse, server = env
    server.routes[FEED] = Route(body=vcalendar(vevent("new", "20260401T080000Z", "New", dtend="20260401T090000Z")).encode())
    (home.path / "inbox/phone-ada-export.ics").unlink()
    run = materialise(raw_ical_events, warehouse, DAY22)
    # Every `lec` row goes, the slid-out February ones included: the whole event left the feed.
    assert keys(warehouse) == ["new@20260401T080000Z", "own-a@20260305T080000Z", "own-b@20260306T080000Z"]
    assert run.meta("rows_deleted") == 15 + 2
