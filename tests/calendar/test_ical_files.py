"""raw/ical_events from real-world .ics files (the parser libraries' own test data), a feed URL served
on 127.0.0.1, inbox files matched to students by slug, and hand-made nasty files; materialised for
real into an embedded Postgres, then rematerialised to show that nothing changes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from studentops_assets.calendar.assets import raw_ical_events

from .helpers import FeedServer, Route, dump_everything, fingerprint, materialise, quarantine, query, raw_tables, serving
from .ics import vcalendar, vevent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "calendar"
ADA = "0b9a4a8e-5c63-4b43-9e55-1c7f0f3b0a01"
GRACE = "5d0e7a11-8f6e-4b7e-a0a4-6f3c2f4e9b02"
SECRET = "private-S3CR3T-t0ken-9f8e7d"
UTC = dt.timezone.utc
# Wide enough for the fixtures' 2014-2023 dates.
WINDOW = {"as_of": "2023-08-01", "past_days": 3650, "future_days": 400}
HUGE_EVENTS = 2000


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def write_inbox(inbox: Path) -> None:
    (inbox / "ada").mkdir(parents=True)
    (inbox / "ada/empty.ics").write_bytes(b"")
    (inbox / "ada/scan.ics").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (inbox / "ada/windows-export.ics").write_bytes(
        vcalendar(vevent("latin-1", "20230705T090000Z", "Café Übung", dtend="20230705T100000Z")).encode("cp1252")
    )
    (inbox / "ada/mixed.ics").write_text(vcalendar(
        vevent(None, "20230710T090000Z", "no uid"),
        vevent("no-start", None, "no start"),
        vevent("good-one", "20230711T090000Z", "still loads", "SEQUENCE:x", dtend="20230711T100000Z"),
    ), encoding="utf-8", newline="")
    (inbox / "ada/huge.ics").write_text(vcalendar(*(
        vevent(f"bulk-{i}", f"202307{1 + i % 28:02d}T{8 + i % 10:02d}0000Z", f"Block {i}") for i in range(HUGE_EVENTS)
    )), encoding="utf-8", newline="")
    # Floating time: placed in Grace's timezone (America/New_York, UTC-4 in July).
    (inbox / "export-grace-2023.ics").write_text(
        vcalendar(vevent("floating-1", "20230712T090000", "Office hours", dtend="20230712T100000")),
        encoding="utf-8", newline="")
    (inbox / "nobody.ics").write_text(vcalendar(vevent("x", "20230701T090000Z", "whose?")), encoding="utf-8")
    (inbox / "notes.txt").write_text("not a calendar, not an .ics: ignored")


@pytest.fixture(scope="module")
def loaded(new_home):
    server = FeedServer()
    server.routes[f"/{SECRET}/basic.ics"] = Route(body=(FIXTURES / "rie_issue_62_moved_event_2.ics").read_bytes())
    with serving(server):
        home, warehouse = new_home(students=[
            {"id": ADA, "slug": "ada", "name": "Ada", "timezone": "Europe/Amsterdam", "calendars": [
                {"name": "berlin", "path": "cal/rie_each_week_but_one_deleted.ics"},
                {"name": "allday", "path": "cal/rie_one_day_event.ics"},
                {"name": "newyork", "path": "cal/icalendar_america_new_york.ics"},
                {"name": "broken", "path": "cal/icalendar_broken_dtstart.ics"},
                {"name": "missing", "path": "cal/nope.ics"},
            ]},
            {"id": GRACE, "slug": "grace", "name": "Grace", "timezone": "America/New_York", "calendars": [
                {"name": "sydney", "url": server.url(f"/{SECRET}/basic.ics")},
            ]},
        ])
        shutil.copytree(FIXTURES, home.path / "cal")
        write_inbox(home.path / "inbox")
        first = materialise(raw_ical_events, warehouse, WINDOW)
        before = fingerprint(warehouse, raw_tables(warehouse))
        quarantined_before = quarantine(warehouse, "ical")
        second = materialise(raw_ical_events, warehouse, WINDOW)
        yield warehouse, first, second, before, quarantined_before


def rows(warehouse, feed: str) -> list[tuple]:
    return query(warehouse, """
        select occurrence_id, starts_at, ends_at, timezone, is_all_day, start_date, end_date,
               is_recurring, is_override, summary, sequence
        from raw.ical_events where feed = %s order by starts_at, occurrence_id""", (feed,))


def test_exdate_removes_one_weekly_occurrence(loaded):
    warehouse = loaded[0]
    got = rows(warehouse, "berlin")
    # Weekly from Monday 2019-03-04 00:30 Berlin (23:30 UTC the day before), COUNT=8, EXDATE on the
    # second one; DST starts on 31 March, so from then on 00:30 Berlin is 22:30 UTC.
    starts = [r[1] for r in got]
    assert starts == [utc(2019, 3, 3, 23, 30), utc(2019, 3, 17, 23, 30), utc(2019, 3, 24, 23, 30),
                      utc(2019, 3, 31, 22, 30), utc(2019, 4, 7, 22, 30), utc(2019, 4, 14, 22, 30),
                      utc(2019, 4, 21, 22, 30)]
    assert all(r[3] == "Europe/Berlin" and r[7] and not r[8] and r[10] == 1 for r in got)
    assert got[0][0] == "20190303T233000Z" and got[0][2] == utc(2019, 3, 4, 0, 0)


def test_recurrence_id_overrides_and_all_day_series_from_a_google_export(loaded):
    warehouse = loaded[0]
    got = rows(warehouse, "sydney")
    assert [(r[0], r[1], r[3], r[4], r[5], r[6], r[8]) for r in got] == [
        # A weekly Tuesday 14:00 Sydney series; the 15 August occurrence was moved to Monday the 14th.
        ("20230808T040000Z", utc(2023, 8, 8, 4), "Australia/Sydney", False, None, None, False),
        ("20230810", utc(2023, 8, 9, 14), None, True, dt.date(2023, 8, 10), dt.date(2023, 8, 11), False),
        ("20230815T040000Z", utc(2023, 8, 14, 4), "Australia/Sydney", False, None, None, True),
        # The all-day Thursday series: the 17 August day moved to Wednesday the 16th. All-day rows
        # start at midnight in the calendar's X-WR-TIMEZONE.
        ("20230817", utc(2023, 8, 15, 14), None, True, dt.date(2023, 8, 16), dt.date(2023, 8, 17), True),
        ("20230822T040000Z", utc(2023, 8, 22, 4), "Australia/Sydney", False, None, None, False),
        ("20230824", utc(2023, 8, 23, 14), None, True, dt.date(2023, 8, 24), dt.date(2023, 8, 25), False),
    ]
    (student, kind, location, key), = query(warehouse, """
        select distinct student_id, feed_kind, feed_location, _natural_key from raw.ical_events
        where occurrence_id = '20230815T040000Z'""")
    assert (student, kind) == (GRACE, "url")
    assert location.startswith("http://127.0.0.1:") and SECRET not in location
    assert key == f"{GRACE}:7v3ju5ft4je5iq18nfdk2s3spk@google.com:20230815T040000Z"


def test_all_day_and_custom_vtimezone_events(loaded):
    warehouse = loaded[0]
    # One all-day event, placed at midnight in Ada's Europe/Amsterdam.
    assert rows(warehouse, "allday") == [
        ("20190304", utc(2019, 3, 3, 23), utc(2019, 3, 4, 23), None, True, dt.date(2019, 3, 4), dt.date(2019, 3, 5),
         False, False, "test2", None),
    ]
    # A VTIMEZONE with a made-up TZID: converted with its own rules, the name kept as written.
    assert rows(warehouse, "newyork") == [
        ("20140829T120000Z", utc(2014, 8, 29, 12), utc(2014, 8, 29, 14), "custom_America/New_York", False, None, None,
         False, False, "an event with a custom tz name", None),
    ]


def test_inbox_files_belong_to_the_student_named_in_their_path(loaded):
    warehouse = loaded[0]
    got = query(warehouse, """
        select student_id, feed, feed_kind, feed_location, count(*) from raw.ical_events
        where feed_kind = 'inbox' group by 1, 2, 3, 4 order by 1, 2""")
    assert got == [
        (ADA, "huge.ics", "inbox", "inbox/ada/huge.ics", HUGE_EVENTS),
        (ADA, "mixed.ics", "inbox", "inbox/ada/mixed.ics", 1),
        (ADA, "windows-export.ics", "inbox", "inbox/ada/windows-export.ics", 1),
        (GRACE, "export-grace-2023.ics", "inbox", "inbox/export-grace-2023.ics", 1),
    ]
    # Floating 09:00 in Grace's America/New_York is 13:00 UTC; text read from Windows-1252 intact.
    assert query(warehouse, "select starts_at, timezone from raw.ical_events where uid = 'floating-1'") == [
        (utc(2023, 7, 12, 13), None)]
    assert query(warehouse, "select summary from raw.ical_events where uid = 'latin-1'") == [("Café Übung",)]


def test_bad_files_and_records_are_quarantined_and_the_rest_loads(loaded):
    warehouse, first = loaded[0], loaded[1]
    got = quarantine(warehouse, "ical")
    assert [(s, f, loc) for s, f, loc, _ in got] == [
        (ADA, "cal/icalendar_broken_dtstart.ics", "VEVENT #1 (UID test-123)"),
        (ADA, "cal/nope.ics", "feed"),
        (ADA, "inbox/ada/empty.ics", "feed"),
        (ADA, "inbox/ada/mixed.ics", "VEVENT #1"),
        (ADA, "inbox/ada/mixed.ics", "VEVENT #2 (UID no-start)"),
        (ADA, "inbox/ada/mixed.ics", "VEVENT #3 (UID good-one)"),
        (ADA, "inbox/ada/scan.ics", "feed"),
        (ADA, "inbox/ada/windows-export.ics", "file"),
        ("", "inbox/nobody.ics", "file"),
    ]
    reasons = {(f, loc): r for _, f, loc, r in got}
    assert reasons[("inbox/nobody.ics", "file")].startswith("matches no configured student")
    assert reasons[("cal/icalendar_broken_dtstart.ics", "VEVENT #1 (UID test-123)")].startswith("DTSTART not valid")
    assert reasons[("cal/nope.ics", "feed")] == "file not found; earlier rows kept"
    assert reasons[("inbox/ada/empty.ics", "feed")] == "empty file; earlier rows kept"
    assert reasons[("inbox/ada/mixed.ics", "VEVENT #1")].startswith("VEVENT has no UID")
    assert reasons[("inbox/ada/mixed.ics", "VEVENT #2 (UID no-start)")] == "VEVENT has no DTSTART, not loaded"
    assert reasons[("inbox/ada/mixed.ics", "VEVENT #3 (UID good-one)")].startswith("SEQUENCE not valid")
    assert reasons[("inbox/ada/scan.ics", "feed")].startswith("binary file")
    assert reasons[("inbox/ada/windows-export.ics", "file")].startswith("not UTF-8")
    # The event with a broken SEQUENCE loaded without it.
    assert query(warehouse, "select summary, sequence from raw.ical_events where uid = 'good-one'") == [("still loads", None)]
    assert first.meta("feeds") == 12  # 6 configured + 6 inbox files (nobody.ics matched no one)
    assert first.meta("feeds_failed") == 3
    assert first.meta("quarantine_issues_this_run") == len(got)
    assert first.meta("dagster/row_count") == 7 + 6 + 1 + 1 + HUGE_EVENTS + 1 + 1 + 1


def test_every_row_has_the_contract_columns(loaded):
    warehouse = loaded[0]
    got = query(warehouse, """
        select count(*) filter (where _source <> 'ical' or _loaded_at is null or _record is null
                                  or content_sha256 is null or uid is null or _natural_key is null),
               count(distinct _natural_key) = count(*)
        from raw.ical_events""")
    assert got == [(0, True)]
    (record,), = query(warehouse, "select _record from raw.ical_events where uid = 'good-one'")
    assert record["jcal"][0] == "vevent"
    assert ["summary", {}, "text", "still loads"] in record["jcal"][1]


def test_second_run_changes_nothing(loaded):
    warehouse, _, second, before, quarantined_before = loaded
    assert fingerprint(warehouse, raw_tables(warehouse)) == before
    assert quarantine(warehouse, "ical") == quarantined_before
    assert second.meta("rows_written") == 0 and second.meta("rows_deleted") == 0
    assert second.meta("feeds_unchanged") == 9  # all but the three unreadable ones


def test_the_feed_url_secret_is_nowhere(loaded):
    warehouse, first, second = loaded[0], loaded[1], loaded[2]
    assert SECRET not in dump_everything(warehouse)
    for run in (first, second):
        assert SECRET not in str(run.metadata)
        assert SECRET not in run.logs_text
