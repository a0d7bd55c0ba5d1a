"""The .ics files `studentops demo` writes (studentops_assets/demo/calendars.py) load without a single
quarantine row, and every lecture lands where the demo's own timetable says it is: cancelled ones
absent (EXDATE), moved ones at their new time under their original key (RECURRENCE-ID), the exam
as an all-day event."""

from __future__ import annotations

import datetime as dt

import pytest

from studentops_assets.calendar.assets import raw_ical_events
from studentops_assets.demo import calendars, config_file
from studentops_assets.demo.catalog import build_catalog, configured_students
from studentops_assets.demo.timeline import LOCAL, Window as DemoWindow

from .helpers import fingerprint, materialise, quarantine, query, raw_tables

END = dt.date(2026, 3, 15)
UTC = dt.timezone.utc
WINDOW_START = dt.datetime(2026, 2, 13, tzinfo=UTC)  # default window: 30 days back ...
WINDOW_END = dt.datetime(2026, 9, 11, tzinfo=UTC)  # ... 180 days ahead


@pytest.fixture(scope="module")
def demo(new_home):
    window = DemoWindow.ending(END, 180)
    catalog = build_catalog(7, 40, window)
    students = configured_students(catalog, 3)
    slugs = config_file.student_slugs(students)
    home, warehouse = new_home(students=[
        {"id": s.id, "slug": slug, "name": s.name, "timezone": "Europe/Amsterdam", "calendars": [
            {"name": "lectures", "path": f"calendars/{slug}/lectures.ics"},
            {"name": "study", "path": f"calendars/{slug}/study-blocks.ics"},
        ]}
        for s, slug in zip(students, slugs)
    ])
    tables = {}
    for student, slug in zip(students, slugs):
        tables[student.id] = calendars.timetable(7, catalog, student)
        folder = home.path / "calendars" / slug
        folder.mkdir(parents=True)
        (folder / "lectures.ics").write_bytes(calendars.lectures_ics(student, tables[student.id], window).encode())
        (folder / "study-blocks.ics").write_bytes(
            calendars.study_blocks_ics(7, student, tables[student.id], window).encode())
        (home.path / "inbox").mkdir(exist_ok=True)
        (home.path / f"inbox/demo-{slug}-extra.ics").write_bytes(
            calendars.extra_ics(student, tables[student.id], window).encode())
    first = materialise(raw_ical_events, warehouse, {"as_of": END.isoformat()})
    before = fingerprint(warehouse, raw_tables(warehouse))
    second = materialise(raw_ical_events, warehouse, {"as_of": END.isoformat()})
    return warehouse, tables, first, second, before


def _utc(local: dt.datetime) -> dt.datetime:
    return local.replace(tzinfo=LOCAL).astimezone(UTC)


def expected_lectures(tables) -> set[tuple]:
    out = set()
    for student_id, timetable in tables.items():
        for tt in timetable:
            uid = f"lecture-{tt.course.id}-{tt.term.label.replace('/', '-')}@studentops.example"
            for lecture in tt.lectures:
                start = _utc(lecture.actual_start)
                end = start + dt.timedelta(minutes=calendars.LECTURE_MINUTES)
                if lecture.cancelled or end <= WINDOW_START or start >= WINDOW_END:
                    continue
                key = _utc(lecture.start).strftime("%Y%m%dT%H%M%SZ")
                out.add((student_id, uid, key, start, lecture.moved_to is not None))
    return out


def test_demo_feeds_load_without_quarantine(demo):
    warehouse, tables, first, *_ = demo
    assert quarantine(warehouse, "ical") == []
    assert first.meta("feeds_failed") == 0 and first.meta("unmatched_inbox_files") == "none"
    assert first.meta("feeds") == 9


def test_lectures_match_the_demo_timetable(demo):
    warehouse, tables = demo[0], demo[1]
    got = set(query(warehouse, """
        select student_id, uid, occurrence_id, starts_at, is_override from raw.ical_events
        where uid like 'lecture-%'"""))
    expected = expected_lectures(tables)
    assert got == expected
    assert any(moved for *_, moved in expected), "the demo plants a moved lecture inside the window"
    assert query(warehouse, """
        select count(*) from raw.ical_events
        where uid like 'lecture-%' and (timezone <> 'Europe/Amsterdam' or not is_recurring)""") == [(0,)]


def test_exam_is_an_all_day_event_and_inbox_files_follow_the_slug(demo):
    warehouse, tables = demo[0], demo[1]
    exams = {(sid, tt.exam_day) for sid, timetable in tables.items() for tt in timetable
             if tt.exam_day and WINDOW_START.date() <= tt.exam_day < WINDOW_END.date()}
    got = set(query(warehouse, """
        select student_id, start_date from raw.ical_events
        where uid like 'exam-%' and is_all_day and end_date = start_date + 1 and timezone is null"""))
    assert got == exams
    # demo-<slug>-extra.ics belongs to <slug>: two events each, for every student.
    assert query(warehouse, """
        select count(distinct student_id), count(*) from raw.ical_events where feed_kind = 'inbox'""") == [(3, 6)]


def test_rerun_changes_nothing(demo):
    warehouse, _, _, second, before = demo
    assert fingerprint(warehouse, raw_tables(warehouse)) == before
    assert second.meta("rows_written") == 0 and second.meta("feeds_unchanged") == 9
