"""Per-student iCalendar feeds: the lecture timetable, self-planned study blocks, and one .ics file
dropped into the inbox.

Written as RFC 5545 text by hand (CRLF, 75-octet folding, TEXT escaping) rather than through a
library, so the bytes depend on nothing but the inputs. The feeds deliberately use the features a
reader has to get right: VTIMEZONE with TZID-local times, weekly RRULE with UNTIL (in UTC, as the RFC
requires for a zoned DTSTART), COUNT, EXDATE, a RECURRENCE-ID override, an all-day VALUE=DATE event,
SEQUENCE and LAST-MODIFIED.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .catalog import Catalog, Course, Student, course_term
from .determinism import stream
from .timeline import LOCAL, TIMEZONE, UTC, Term, Window

PRODID = "-//StudentOps//Demo Timetable 1.0//EN"
LECTURE_MINUTES = 105
_HOURS = (9, 11, 13, 15)
_BUILDINGS = ("Turing Building", "Minerva Hall", "Oort Building", "Huygens Lab", "Erasmus Wing")

VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    f"TZID:{TIMEZONE}",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19810329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19961027T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
)


@dataclass(frozen=True)
class Lecture:
    number: int
    start: dt.datetime  # local wall time, naive
    cancelled: bool = False
    moved_to: dt.datetime | None = None  # local wall time, naive

    @property
    def actual_start(self) -> dt.datetime:
        return self.moved_to or self.start


@dataclass(frozen=True)
class CourseTimetable:
    course: Course
    term: Term
    lecturer: str
    room: str
    moved_room: str
    lectures: tuple[Lecture, ...]
    exam_day: dt.date | None  # the course that hosts the one all-day exam event

    def held_by(self, end: dt.date) -> list[Lecture]:
        return [lec for lec in self.lectures if not lec.cancelled and lec.actual_start.date() <= end]


def _past_index(lectures: list[dt.datetime], end: dt.date, rng, exclude: set[int]) -> int:
    # Prefer an occurrence that has already happened by the demo's end, so notes can refer to it.
    past = [i for i, start in enumerate(lectures) if start.date() <= end and i > 0 and i not in exclude]
    pool = past or [i for i in range(1, len(lectures)) if i not in exclude]
    return rng.choice(pool)


def timetable(seed: int, catalog: Catalog, student: Student) -> list[CourseTimetable]:
    end = catalog.window.end
    lecturers = dict(catalog.lecturers)
    rng = stream(seed, "timetable", student.id)
    out = []
    for position, course in enumerate(student.courses):
        t = course_term(course, end)
        slot = course.index % 20
        first_day = t.first_lecture_monday + dt.timedelta(days=slot % 5)
        hour = _HOURS[slot // 5]
        starts = []
        day = first_day
        while day <= t.lectures_end:
            starts.append(dt.datetime.combine(day, dt.time(hour, 0)))
            day += dt.timedelta(weeks=1)
        cancelled = _past_index(starts, end, rng, set()) if position == 0 else None
        moved = _past_index(starts, end, rng, set()) if position == 1 else None
        lectures = tuple(
            Lecture(i + 1, start, cancelled=i == cancelled,
                    moved_to=start + dt.timedelta(days=1, hours=1) if i == moved else None)
            for i, start in enumerate(starts)
        )
        exam_day = None
        if position == 0:
            exam_day = t.exam_start + dt.timedelta(days=7)
            if exam_day.weekday() >= 5:  # exams are held on weekdays: move to the Monday after
                exam_day += dt.timedelta(days=7 - exam_day.weekday())
        out.append(CourseTimetable(
            course=course, term=t, lecturer=lecturers[course.lecturer_id],
            room=f"{rng.choice(_BUILDINGS)}, room {rng.randint(1, 4)}.{rng.randint(1, 40):02d}",
            moved_room=f"{rng.choice(_BUILDINGS)}, room {rng.randint(1, 4)}.{rng.randint(1, 40):02d}",
            lectures=lectures, exam_day=exam_day,
        ))
    return out


# ---- RFC 5545 text -------------------------------------------------------------------------------

def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold at 75 octets (continuations start with one space), never inside a UTF-8 sequence."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(data):
        cut = min(start + limit, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(data[start:cut].decode("utf-8"))
        start, limit = cut, 74
    return "\r\n ".join(parts)


def _local(value: dt.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _utc(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _zoned(name: str, value: dt.datetime) -> str:
    return f"{name};TZID={TIMEZONE}:{_local(value)}"


def _calendar(name: str, events: list[list[str]]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape(name)}", f"X-WR-TIMEZONE:{TIMEZONE}", *VTIMEZONE]
    for event in events:
        lines += ["BEGIN:VEVENT", *event, "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=LOCAL)


def lectures_ics(student: Student, tables: list[CourseTimetable], window: Window) -> str:
    stamp = _utc(window.generated_at)
    events = []
    for tt in tables:
        code, name = tt.course.spec.code, tt.course.spec.name
        uid = f"lecture-{tt.course.id}-{tt.term.label.replace('/', '-')}@studentops.example"
        first = tt.lectures[0].start
        last = tt.lectures[-1].start
        until = _aware(dt.datetime.combine(last.date(), dt.time(23, 59, 59)))
        cancelled = [lec for lec in tt.lectures if lec.cancelled]
        moved = [lec for lec in tt.lectures if lec.moved_to]
        modified = _aware(dt.datetime.combine(tt.term.start, dt.time(9, 0))) - dt.timedelta(days=14)
        # A series that was edited after publication carries a higher SEQUENCE and a later LAST-MODIFIED.
        if cancelled or moved:
            edit = (cancelled or moved)[0].start - dt.timedelta(days=3)
            modified = _aware(edit)
        series = [
            f"UID:{uid}",
            f"DTSTAMP:{stamp}",
            _zoned("DTSTART", first),
            _zoned("DTEND", first + dt.timedelta(minutes=LECTURE_MINUTES)),
            f"RRULE:FREQ=WEEKLY;UNTIL={_utc(until)}",
            f"SUMMARY:{escape(f'{code} {name} — lecture')}",
            f"LOCATION:{escape(tt.room)}",
            "DESCRIPTION:" + escape(
                f"{name} ({code}), {tt.term.label} semester {tt.term.semester}.\n"
                f"Lecturer: {tt.lecturer}. Slides and recordings are on the platform; "
                f"bring questions about {tt.course.spec.terms[0]} and {tt.course.spec.terms[1]}."),
            f"CATEGORIES:LECTURE,{code}",
            f"SEQUENCE:{2 if cancelled else 1 if moved else 0}",
            f"LAST-MODIFIED:{_utc(modified)}",
            "STATUS:CONFIRMED",
        ]
        for lec in cancelled:
            series.append(_zoned("EXDATE", lec.start))
        events.append(series)
        for lec in moved:
            events.append([
                f"UID:{uid}",
                f"DTSTAMP:{stamp}",
                _zoned("RECURRENCE-ID", lec.start),
                _zoned("DTSTART", lec.moved_to),
                _zoned("DTEND", lec.moved_to + dt.timedelta(minutes=LECTURE_MINUTES)),
                f"SUMMARY:{escape(f'{code} {name} — lecture (moved)')}",
                f"LOCATION:{escape(tt.moved_room)}",
                f"DESCRIPTION:{escape(f'Lecture {lec.number} moved one day later because of a room conflict.')}",
                "SEQUENCE:1",
                f"LAST-MODIFIED:{_utc(_aware(lec.start - dt.timedelta(days=5)))}",
                "STATUS:CONFIRMED",
            ])
        if tt.exam_day:
            events.append([
                f"UID:exam-{tt.course.id}-{tt.term.label.replace('/', '-')}@studentops.example",
                f"DTSTAMP:{stamp}",
                f"DTSTART;VALUE=DATE:{tt.exam_day.strftime('%Y%m%d')}",
                f"DTEND;VALUE=DATE:{(tt.exam_day + dt.timedelta(days=1)).strftime('%Y%m%d')}",
                f"SUMMARY:{escape(f'Exam {code}: {name}')}",
                "DESCRIPTION:" + escape("Written exam. Check the platform for your room; bring your student card."),
                "TRANSP:TRANSPARENT",
                "CATEGORIES:EXAM",
                "SEQUENCE:0",
                f"LAST-MODIFIED:{_utc(_aware(dt.datetime.combine(tt.term.start, dt.time(10, 0))))}",
            ])
    return _calendar(f"{student.name} — lectures", events)


def study_blocks_ics(seed: int, student: Student, tables: list[CourseTimetable], window: Window) -> str:
    rng = stream(seed, "study-blocks", student.id)
    stamp = _utc(window.generated_at)
    end = window.end
    events = []
    # Two recurring blocks that began five weeks before the end and run on past it (RRULE;COUNT).
    monday = end - dt.timedelta(days=end.weekday() + 35)
    for i, tt in enumerate(tables[:2]):
        day = monday + dt.timedelta(days=1 + 2 * i)
        start = dt.datetime.combine(day, dt.time(19 if i == 0 else 14, 0))
        code = tt.course.spec.code
        events.append([
            f"UID:study-weekly-{i}-{student.id}@studentops.example",
            f"DTSTAMP:{stamp}",
            _zoned("DTSTART", start),
            _zoned("DTEND", start + dt.timedelta(minutes=90)),
            f"RRULE:FREQ=WEEKLY;COUNT={8 + 2 * i}",
            f"SUMMARY:{escape(f'Study block: {code} review')}",
            "DESCRIPTION:" + escape(f"Retrieval practice on {tt.course.spec.terms[2]}; no phone, 25/5 rhythm."),
            "CATEGORIES:STUDY",
            "SEQUENCE:0",
            f"LAST-MODIFIED:{_utc(_aware(start - dt.timedelta(days=2)))}",
        ])
    # One-off blocks in the last three weeks and the coming week.
    for n in range(8):
        tt = tables[n % len(tables)]
        day = end - dt.timedelta(days=rng.randint(-6, 20))
        start = dt.datetime.combine(day, dt.time(rng.choice((8, 10, 13, 16, 20)), rng.choice((0, 30))))
        topic = rng.choice(tt.course.spec.terms)
        events.append([
            f"UID:study-{n}-{student.id}@studentops.example",
            f"DTSTAMP:{stamp}",
            _zoned("DTSTART", start),
            _zoned("DTEND", start + dt.timedelta(minutes=rng.choice((45, 60, 90, 120)))),
            f"SUMMARY:{escape(f'{tt.course.spec.code}: {topic}')}",
            f"LOCATION:{escape(rng.choice(['Library, silent floor', 'Home', 'Study room B; 2nd floor']))}",
            f"SEQUENCE:{rng.choice((0, 0, 1))}",
            f"LAST-MODIFIED:{_utc(_aware(start - dt.timedelta(days=rng.randint(1, 6))))}",
            "TRANSP:OPAQUE",
        ])
    return _calendar(f"{student.name} — study blocks", events)


def extra_ics(student: Student, tables: list[CourseTimetable], window: Window) -> str:
    """A calendar someone exported from elsewhere and dropped into the inbox: UTC times, an alarm,
    non-ASCII text long enough to be folded."""
    stamp = _utc(window.generated_at)
    tt = tables[0]
    talk = dt.datetime.combine(window.end - dt.timedelta(days=9), dt.time(15, 0), tzinfo=UTC)
    group = dt.datetime.combine(window.end - dt.timedelta(days=2), dt.time(18, 30))
    events = [
        [
            f"UID:guest-talk-{student.id}@studentops.example",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_utc(talk)}",
            f"DTEND:{_utc(talk + dt.timedelta(hours=1, minutes=15))}",
            f"SUMMARY:{escape(f'Guest lecture: {tt.course.spec.terms[3]} in practice')}",
            "DESCRIPTION:" + escape(
                f"Invited talk for {tt.course.spec.code} students and anyone curious. "
                "Afterwards: drinks in the café, Straße-side entrance — all welcome; bring a friend."),
            "LOCATION:" + escape("Aula, Universiteitsplein 1, Amsterdam"),
            "SEQUENCE:0",
            f"LAST-MODIFIED:{_utc(talk - dt.timedelta(days=20))}",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "DESCRIPTION:Guest lecture starts in 30 minutes",
            "TRIGGER:-PT30M",
            "END:VALARM",
        ],
        [
            f"UID:study-group-{student.id}@studentops.example",
            f"DTSTAMP:{stamp}",
            _zoned("DTSTART", group),
            _zoned("DTEND", group + dt.timedelta(hours=2)),
            f"SUMMARY:{escape(f'Café study group — Übung {tt.course.spec.code}')}",
            "DESCRIPTION:" + escape(f"Bring the exercises on {tt.course.spec.terms[4]}."),
            "SEQUENCE:3",
            f"LAST-MODIFIED:{_utc(_aware(group - dt.timedelta(days=1)))}",
        ],
    ]
    return _calendar("Shared with me", events)
