"""The iCal reader and the inbox slug rule on their own (no warehouse): edge cases that need no run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from studentops_assets.calendar.ical_feeds import owner_of, plan_feeds, redact_url
from studentops_assets.calendar.ical_reader import parse_feed
from studentops_assets.calendar.window import Window
from studentops_assets.core.settings import load_config

from .ics import vcalendar, vevent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "calendar"
WIDE = Window.around(dt.date(2023, 8, 1), 3650, 400)


def test_slug_rule_prefers_the_longest_slug_and_refuses_ties():
    slugs = ["noah", "noah-2", "ada", "grace"]
    assert owner_of("demo-noah-2-extra.ics", slugs) == ("noah-2", None)
    assert owner_of("demo-noah-extra.ics", slugs) == ("noah", None)
    assert owner_of("ada/export.ics", slugs) == ("ada", None)
    assert owner_of("2023 Ada timetable.ics", slugs) == ("ada", None)
    assert owner_of("adam-export.ics", slugs)[0] is None  # a word, not a substring
    slug, reason = owner_of("ada-and-grace.ics", slugs)
    assert slug is None and reason.startswith("matches more than one student (ada, grace)")


def test_feed_plan_orders_configured_feeds_before_inbox_files(tmp_path, monkeypatch):
    (tmp_path / "studentops.yaml").write_text(
        "students:\n"
        "  - {id: s1, slug: ada, calendars: [{name: uni, url: 'https://cal.example.org/private-abc/basic.ics'},"
        " {name: uni, path: a.ics}]}\n"
    )
    (tmp_path / "inbox/ada").mkdir(parents=True)
    (tmp_path / "inbox/ada/b.ics").write_text("x")
    (tmp_path / "inbox/.hidden-ada.ics").write_text("x")
    (tmp_path / "inbox/ada.bib").write_text("x")
    feeds, unmatched = plan_feeds(load_config(tmp_path))
    assert [(f.feed_id, f.kind, f.label, f.location) for f in feeds] == [
        ("s1|config|uni", "url", "feed:uni", "https://cal.example.org"),
        ("s1|config|uni#2", "path", "a.ics", "a.ics"),
        ("s1|inbox|ada/b.ics", "inbox", "inbox/ada/b.ics", "inbox/ada/b.ics"),
    ]
    assert unmatched == []
    assert redact_url("https://user:pw@cal.example.org:8443/private-x/basic.ics?token=y") == "https://cal.example.org:8443"


def test_a_malformed_line_loads_its_event_without_it():
    text = vcalendar(vevent("e", "20230702T090000Z", "Still here", "this line has no colon at all"))
    parsed = parse_feed(text.encode(), WIDE, "UTC")
    assert [row["summary"] for row in parsed.rows.values()] == ["Still here"]
    assert parsed.issues[0].reason.startswith("CONTENT LINE not valid")


def test_an_event_that_breaks_the_whole_parse_is_quarantined_alone():
    # An unclosed BEGIN:VALARM makes icalendar reject the whole file: it is read event by event.
    text = vcalendar(
        vevent("ok-1", "20230701T090000Z", "First"),
        vevent("bad", "20230702T090000Z", "Broken", "BEGIN:VALARM"),
        vevent("ok-2", "20230703T090000Z", "Third"),
    )
    parsed = parse_feed(text.encode(), WIDE, "UTC")
    assert sorted(uid for uid, _ in parsed.rows) == ["ok-1", "ok-2"]
    assert parsed.bad_uids == {"bad"} and not parsed.partial and parsed.failure is None
    assert [i.location for i in parsed.issues] == ["line 10 (UID bad)"]
    assert parsed.issues[0].reason.startswith("VEVENT not parsable")


def test_a_series_with_a_broken_override_keeps_its_earlier_rows():
    text = vcalendar(
        vevent("series", "20230703T090000Z", "Weekly", "RRULE:FREQ=WEEKLY;COUNT=3"),
        vevent("series", "20230711T090000Z", "Moved", "RECURRENCE-ID:2023071"),
    )
    parsed = parse_feed(text.encode(), WIDE, "UTC")
    assert parsed.rows == {} and parsed.bad_uids == {"series"}
    assert parsed.issues[0].reason.startswith("RECURRENCE-ID not valid")


def test_duplicated_events_across_two_calendars_keep_the_later_revision():
    older = vcalendar(vevent("dup", "20230701T090000Z", "Old", "SEQUENCE:1"))
    newer = vcalendar(vevent("dup", "20230701T090000Z", "New", "SEQUENCE:2"))
    parsed = parse_feed((newer + older).encode(), WIDE, "UTC")
    assert [row["summary"] for row in parsed.rows.values()] == ["New"]


def test_dtstamp_is_not_a_change():
    one = vcalendar(vevent("e", "20230701T090000Z", "Same"))
    other = one.replace("DTSTAMP:20260101T000000Z", "DTSTAMP:20270202T020202Z")
    first = parse_feed(one.encode(), WIDE, "UTC").rows
    second = parse_feed(other.encode(), WIDE, "UTC").rows
    assert [r["content_sha256"] for r in first.values()] == [r["content_sha256"] for r in second.values()]


def test_utf8_bom_and_real_world_fixture_without_issues():
    data = b"\xef\xbb\xbf" + (FIXTURES / "rie_issue_62_moved_event_2.ics").read_bytes()
    parsed = parse_feed(data, WIDE, "UTC")
    assert parsed.issues == [] and len(parsed.rows) == 6
