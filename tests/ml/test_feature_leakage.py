"""No leakage: events on or after an as-of date never reach that date's feature rows.

The feature function is fed a realistic synthetic history; every kind of event on/after the as-of date
is changed, added or removed and the rows must not move, while the same change a day earlier must.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from studentops_assets.ml.features import (
    DAILY_SCHEMA,
    FEATURES,
    STUDENTS_SCHEMA,
    VIEWS_SCHEMA,
    churn_labels,
    features_as_of,
)

START = dt.date(2026, 1, 5)
AS_OF = dt.date(2026, 4, 6)


def _history(seed: int = 3, students: int = 25, days: int = 150):
    rng = np.random.default_rng(seed)
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(students)]
    rows = []
    for s, sid in enumerate(ids):
        rate = rng.gamma(2.0, 0.5)
        stop = rng.integers(40, days) if s % 4 == 0 else days  # some students go quiet
        for d in range(days):
            n = rng.poisson(rate) if d < stop else 0
            rows.append((sid, START + dt.timedelta(days=d), int(n), float(n * rng.uniform(5, 40)),
                         int(rng.binomial(n, 0.6)), int(10 * rng.binomial(n, 0.6)), int(rng.poisson(0.3 if d < stop else 0)),
                         int(rng.poisson(0.05)), float(rng.choice([0, 0, 0, 60]))))
    daily = pl.DataFrame(rows, schema=DAILY_SCHEMA, orient="row")
    views = (daily.filter(pl.col("sessions") > 0)
             .select("student_id", pl.col("activity_date").alias("started_local_date"))
             .with_columns(course_code=pl.lit("CS") + (pl.col("started_local_date").dt.day() % 4).cast(pl.Utf8)))
    views = views.select(list(VIEWS_SCHEMA))
    students_frame = pl.DataFrame({"student_id": ids, "joined_local_date": [START - dt.timedelta(days=10 * i) for i in range(students)]},
                                  schema=STUDENTS_SCHEMA)
    return daily, views, students_frame


def _future_changes(daily: pl.DataFrame, views: pl.DataFrame, on: dt.date):
    """Change every event on/after `on`: more sessions, other minutes and XP, new days, new courses."""
    later = pl.col("activity_date") >= on
    changed = daily.with_columns(
        pl.when(later).then(pl.col(c) * 3 + 1).otherwise(pl.col(c)).alias(c)
        for c in ("sessions", "completions", "xp", "tasks_done", "notes_edited")
    ).with_columns(pl.when(later).then(pl.col("active_minutes") + 99.0).otherwise(pl.col("active_minutes")).alias("active_minutes"))
    extra_day = changed.filter(pl.col("activity_date") == on).with_columns(
        pl.col("student_id").str.replace(r"\d$", "9"), pl.lit(on).alias("activity_date"))
    changed = pl.concat([changed, extra_day])
    new_views = pl.DataFrame({"student_id": views["student_id"].unique().sort()}).with_columns(
        started_local_date=pl.lit(on), course_code=pl.lit("NEW999"))
    return changed, pl.concat([views, new_views.select(list(VIEWS_SCHEMA))])


def test_events_on_or_after_the_as_of_date_leave_its_rows_unchanged():
    daily, views, students = _history()
    before = features_as_of(daily, views, students, AS_OF)
    assert before.height == 25 and before.filter(pl.col("is_active")).height > 15
    for on in (AS_OF, AS_OF + dt.timedelta(days=1), AS_OF + dt.timedelta(days=30)):
        changed_daily, changed_views = _future_changes(daily, views, on)
        after = features_as_of(changed_daily, changed_views, students, AS_OF)
        assert after.equals(before), f"events from {on} changed the features as of {AS_OF}"
    # Removing everything from the as-of date on changes nothing either.
    trimmed = features_as_of(daily.filter(pl.col("activity_date") < AS_OF),
                             views.filter(pl.col("started_local_date") < AS_OF), students, AS_OF)
    assert trimmed.equals(before)


def test_the_same_change_one_day_earlier_does_move_the_rows():
    # The control: without it, a feature function that ignored its input would pass the test above.
    daily, views, students = _history()
    before = features_as_of(daily, views, students, AS_OF)
    changed_daily, changed_views = _future_changes(daily, views, AS_OF - dt.timedelta(days=1))
    after = features_as_of(changed_daily, changed_views, students, AS_OF)
    moved = [f for f in FEATURES if not after[f].equals(before[f])]
    assert {"sessions_last_1w", "active_minutes_4w", "xp_per_week_4w", "active_courses_4w"} <= set(moved)


def test_a_student_joining_on_the_as_of_date_is_not_in_that_partition():
    daily, views, students = _history()
    late = pl.DataFrame({"student_id": ["99999999-0000-0000-0000-000000000000"], "joined_local_date": [AS_OF]},
                        schema=STUDENTS_SCHEMA)
    rows = features_as_of(daily, views, pl.concat([students, late]), AS_OF)
    assert "99999999-0000-0000-0000-000000000000" not in rows["student_id"].to_list()


def test_days_since_last_activity_and_windows():
    daily, views, students = _history()
    rows = features_as_of(daily, views, students, AS_OF).sort("student_id")
    sid = rows["student_id"][1]
    mine = daily.filter((pl.col("student_id") == sid) & (pl.col("activity_date") < AS_OF))
    active = mine.filter((pl.col("sessions") > 0) | (pl.col("xp") > 0) | (pl.col("tasks_done") > 0))
    expected_quiet = (AS_OF - active["activity_date"].max()).days
    week = mine.filter(pl.col("activity_date") >= AS_OF - dt.timedelta(days=7))["sessions"].sum()
    row = rows.filter(pl.col("student_id") == sid).row(0, named=True)
    assert row["days_since_last_activity"] == expected_quiet
    assert row["sessions_last_1w"] == week


@pytest.mark.parametrize("horizon", [30, 60])
def test_labels_exist_only_once_the_horizon_has_passed(horizon):
    daily, views, students = _history()
    keys = pl.DataFrame({"student_id": students["student_id"]}).join(
        pl.DataFrame({"as_of_date": [START + dt.timedelta(weeks=w) for w in range(22)]}), how="cross")
    watermark = START + dt.timedelta(days=150)
    labels = churn_labels(daily, keys, horizon, watermark)
    assert labels["as_of_date"].max() + dt.timedelta(days=horizon) <= watermark
    assert labels["as_of_date"].max() + dt.timedelta(days=horizon + 7) > watermark
    # A student who stopped for good is churned at an as-of date after their last activity.
    quiet = daily.filter(pl.col("sessions") > 0).group_by("student_id").agg(pl.col("activity_date").max().alias("last"))
    stopped = quiet.filter(pl.col("last") < watermark - dt.timedelta(days=horizon + 14)).row(0, named=True)
    mine = labels.filter((pl.col("student_id") == stopped["student_id"]) & (pl.col("as_of_date") > stopped["last"]))
    assert mine.height > 0 and mine["churned"].all()
