"""The time window calendar occurrences are loaded for, and the run config that sets it.

Recurring events are infinite, so both loaders look at a window around the run date (default 30 days
back, 180 days ahead). The window is computed from the run's UTC date, so every run on the same day
sees the same window and a rerun with the same input changes nothing.

Inside the window the source is the truth: an occurrence that is no longer there is deleted. Outside
it, rows are frozen as last loaded: an occurrence that slides out of the window as the days pass keeps
its row (it is history, which the study analytics need), and is only deleted when its whole event
disappears from the feed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import dagster as dg
from pydantic import Field

UTC = dt.timezone.utc
DEFAULT_PAST_DAYS = 30
DEFAULT_FUTURE_DAYS = 180


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC, both at midnight."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def around(cls, day: dt.date, past_days: int = DEFAULT_PAST_DAYS, future_days: int = DEFAULT_FUTURE_DAYS) -> "Window":
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=UTC)
        return cls(midnight - dt.timedelta(days=past_days), midnight + dt.timedelta(days=future_days))

    @property
    def signature(self) -> str:
        return f"{self.start:%Y%m%d}-{self.end:%Y%m%d}"

    def excludes(self, start: dt.datetime, end: dt.datetime) -> bool:
        """True when [start, end] lies wholly outside the window (touching a bound counts as outside,
        so an occurrence the expander may or may not report at a bound is never deleted for it)."""
        return end <= self.start or start >= self.end


class CalendarWindowConfig(dg.Config):
    """Run config of the calendar loaders (all optional)."""

    past_days: int = Field(default=DEFAULT_PAST_DAYS, ge=0, description="Days before the run date to load")
    future_days: int = Field(default=DEFAULT_FUTURE_DAYS, ge=1, description="Days after the run date to load")
    as_of: Optional[str] = Field(
        default=None, description="Run date (YYYY-MM-DD) the window is centred on; default: today (UTC)"
    )

    def window(self, now: dt.datetime) -> Window:
        day = dt.date.fromisoformat(self.as_of) if self.as_of else now.astimezone(UTC).date()
        return Window.around(day, self.past_days, self.future_days)
