"""Time in the demo: the generation window, the academic calendar and the seasonal profiles that
shape platform activity.

All timestamps are derived from `end_date`, never from the clock, so a rerun is identical.
The academic year follows the Dutch pattern: semester 1 runs September to January, semester 2
February to June, with an exam period in the last three weeks of each and a quiet summer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

TIMEZONE = "Europe/Amsterdam"
LOCAL = ZoneInfo(TIMEZONE)
UTC = dt.timezone.utc

EXAM_RAMP_DAYS = 21
LECTURE_WEEKS = {1: 14, 2: 16}

# Relative weight of each local hour 0..23: near zero at night, a late-morning bump, the main peak
# mid-afternoon to evening. Shaped after typical LMS usage curves.
HOUR_WEIGHTS = (
    0.35, 0.15, 0.07, 0.04, 0.03, 0.05, 0.15, 0.45, 1.0, 1.6, 2.0, 2.2,
    1.8, 2.1, 2.6, 2.9, 2.8, 2.4, 2.1, 2.6, 3.0, 2.7, 1.8, 0.9,
)
# Monday..Sunday: steady weekdays easing towards Friday, a quiet Saturday, a Sunday catch-up.
WEEKDAY_WEIGHTS = (1.12, 1.10, 1.05, 1.0, 0.78, 0.55, 0.95)
# Sunday evening is when students catch up before the week: boost 18:00-22:59 on Sundays.
SUNDAY_EVENING_BOOST = 1.9


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date

    @classmethod
    def ending(cls, end: dt.date, days: int) -> "Window":
        return cls(end - dt.timedelta(days=days - 1), end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def day(self, index: int) -> dt.date:
        return self.start + dt.timedelta(days=index)

    @property
    def generated_at(self) -> dt.datetime:
        """The fixed 'now' of a run: local midnight after the last day, so every event is before it."""
        return local_to_utc(self.end + dt.timedelta(days=1), 0)


def local_to_utc(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=LOCAL).astimezone(UTC)


@dataclass(frozen=True)
class Term:
    """One semester of one academic year."""

    semester: int
    academic_start_year: int  # 2025 for 2025/2026
    start: dt.date  # first day of the semester
    end: dt.date  # last day (end of the exam period)

    @property
    def label(self) -> str:
        return f"{self.academic_start_year}/{self.academic_start_year + 1}"

    @property
    def first_lecture_monday(self) -> dt.date:
        return self.start + dt.timedelta(days=(7 - self.start.weekday()) % 7)

    @property
    def lectures_end(self) -> dt.date:
        return self.first_lecture_monday + dt.timedelta(weeks=LECTURE_WEEKS[self.semester], days=-1)

    @property
    def exam_start(self) -> dt.date:
        return self.end - dt.timedelta(days=EXAM_RAMP_DAYS - 1)


def term(semester: int, academic_start_year: int) -> Term:
    if semester == 1:
        return Term(1, academic_start_year, dt.date(academic_start_year, 9, 1),
                    dt.date(academic_start_year + 1, 1, 31))
    return Term(2, academic_start_year, dt.date(academic_start_year + 1, 2, 1),
                dt.date(academic_start_year + 1, 6, 30))


def academic_start_year(day: dt.date) -> int:
    return day.year if day.month >= 9 else day.year - 1


def term_on(day: dt.date) -> Term | None:
    """The semester `day` falls in, or None in the July/August break."""
    year = academic_start_year(day)
    for semester in (1, 2):
        t = term(semester, year)
        if t.start <= day <= t.end:
            return t
    return None


def latest_term(semester: int, on_or_before: dt.date) -> Term:
    """The most recent run of a semester-`semester` course that had started by `on_or_before`."""
    year = academic_start_year(on_or_before)
    t = term(semester, year)
    return t if t.start <= on_or_before else term(semester, year - 1)


def course_factor(semester: int, day: dt.date) -> float:
    """How much a course of `semester` is studied on `day`, relative to an ordinary teaching day.

    Its own semester: 1.0 during lectures, ramping linearly to 2.6 over the exam period.
    Another semester: 0.25 (people revisit old material). Summer break: 0.3 for everyone (resits,
    catching up), low enough to show the lull yet leaving a disengagement onset there detectable.
    """
    t = term_on(day)
    if t is None:
        return 0.3
    if t.semester != semester:
        return 0.25
    if day >= t.exam_start:
        return 1.0 + 1.6 * ((day - t.exam_start).days + 1) / EXAM_RAMP_DAYS
    return 1.0


def hour_weights(weekday: int) -> list[float]:
    weights = [w * WEEKDAY_WEIGHTS[weekday] for w in HOUR_WEIGHTS]
    if weekday == 6:
        for h in range(18, 23):
            weights[h] *= SUNDAY_EVENING_BOOST
    return weights


def day_weight(weekday: int) -> float:
    """Relative daily volume of a weekday, including the Sunday-evening boost."""
    return sum(hour_weights(weekday)) / sum(HOUR_WEIGHTS)
