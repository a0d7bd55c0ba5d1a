"""Digest periods in the study timezone: a daily digest covers a local day, a weekly one an ISO week."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Period:
    kind: str  # daily | weekly | staff
    key: str  # 2026-12-02 or 2026-W49
    start: dt.date  # first day covered
    end: dt.date  # last day covered (inclusive)
    as_of: dt.date  # the day the digest is for ("due in the next 7 days" counts from here)

    @property
    def label(self) -> str:
        return self.key if self.kind != "weekly" else f"week {self.key} ({self.start} to {self.end})"

    @property
    def compare_window(self) -> tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]:
        """(this, last) half-open windows for "study hours against last week"."""
        if self.kind == "weekly":
            this = (self.start, self.end + dt.timedelta(days=1))
        else:  # the seven days before the digest's day
            this = (self.as_of - dt.timedelta(days=7), self.as_of)
        return this, (this[0] - dt.timedelta(days=7), this[0])


def local_today(timezone: str, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo(timezone)).date()


def period_for(kind: str, day: dt.date) -> Period:
    if kind in ("daily", "staff"):
        return Period(kind, day.isoformat(), day, day, day)
    if kind == "weekly":
        # The weekly digest goes out on Sunday evening about the week ending that Sunday.
        start = day - dt.timedelta(days=day.weekday())
        year, week, _ = day.isocalendar()
        return Period(kind, f"{year}-W{week:02d}", start, start + dt.timedelta(days=6), day)
    raise ValueError(f"unknown digest kind {kind!r}")
