"""Student features as of a date, from events strictly before it (polars, no row loops).

Every window is half-open and ends at the as-of date: `[as_of - n days, as_of)`. An event on the
as-of date itself, or later, can never reach a feature row; tests/ml/test_leakage.py changes such
events and checks the rows do not move.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import polars as pl
import polars.selectors as cs

# Days of history a feature row reads: the longest window below (days since last activity is capped
# there, so a student quiet for longer reads as "at least this long").
LOOKBACK_DAYS = 120
# A student is in the scored population at an as-of date if they did anything on the platform in the
# 60 days before it; one quiet for longer has already left, and predicting that is no skill.
ACTIVE_WINDOW_DAYS = 60

# The ordered feature list every model version records.
FEATURES = [
    "sessions_last_1w",
    "sessions_per_week_4w",
    "days_since_last_activity",
    "active_days_4w",
    "active_minutes_4w",
    "completion_rate_4w",
    "completion_rate_trend",
    "xp_per_week_4w",
    "tasks_done_4w",
    "notes_4w",
    "calendar_study_minutes_4w",
    "tenure_days",
    "active_courses_4w",
]

DAILY_SCHEMA = {
    "student_id": pl.Utf8,
    "activity_date": pl.Date,
    "sessions": pl.Int64,
    "active_minutes": pl.Float64,
    "completions": pl.Int64,
    "xp": pl.Int64,
    "tasks_done": pl.Int64,
    "notes_edited": pl.Int64,
    "calendar_study_minutes": pl.Float64,
}
VIEWS_SCHEMA = {"student_id": pl.Utf8, "started_local_date": pl.Date, "course_code": pl.Utf8}
STUDENTS_SCHEMA = {"student_id": pl.Utf8, "joined_local_date": pl.Date}


def platform_activity(frame: pl.DataFrame) -> pl.Expr:
    """A day counts as active on the platform if the student viewed a file, earned XP or ticked off a
    task (the same definition the churn label uses)."""
    return (pl.col("sessions") > 0) | (pl.col("xp") > 0) | (pl.col("tasks_done") > 0)


def _window(frame: pl.DataFrame, column: str, as_of: dt.date, days: int, skip: int = 0) -> pl.DataFrame:
    """Rows with `column` in [as_of - days - skip, as_of - skip)."""
    end = as_of - dt.timedelta(days=skip)
    return frame.filter((pl.col(column) >= end - dt.timedelta(days=days)) & (pl.col(column) < end))


def features_as_of(daily: pl.DataFrame, views: pl.DataFrame, students: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """One row per student who had joined before `as_of`, with FEATURES and `is_active`."""
    daily = daily.filter(pl.col("activity_date") < as_of)
    views = views.filter(pl.col("started_local_date") < as_of)
    people = students.filter(pl.col("joined_local_date") < as_of).select("student_id", "joined_local_date")

    def sums(days: int, skip: int = 0, suffix: str = "") -> pl.DataFrame:
        return _window(daily, "activity_date", as_of, days, skip).group_by("student_id").agg(
            pl.col("sessions").sum().alias(f"sessions{suffix}"),
            pl.col("completions").sum().alias(f"completions{suffix}"),
            pl.col("active_minutes").sum().alias(f"minutes{suffix}"),
            pl.col("xp").sum().alias(f"xp{suffix}"),
            pl.col("tasks_done").sum().alias(f"tasks{suffix}"),
            pl.col("notes_edited").sum().alias(f"notes{suffix}"),
            pl.col("calendar_study_minutes").sum().alias(f"calendar{suffix}"),
            platform_activity(daily).sum().alias(f"active_days{suffix}"),
        )

    last_active = (
        _window(daily, "activity_date", as_of, LOOKBACK_DAYS)
        .filter(platform_activity(daily))
        .group_by("student_id")
        .agg(pl.col("activity_date").max().alias("last_active"))
    )
    courses = (
        _window(views, "started_local_date", as_of, 28)
        .group_by("student_id")
        .agg(pl.col("course_code").n_unique().alias("active_courses_4w"))
    )
    frame = (
        people.join(sums(7, suffix="_1w"), on="student_id", how="left")
        .join(sums(28, suffix="_4w"), on="student_id", how="left")
        .join(sums(14, suffix="_2w"), on="student_id", how="left")
        .join(sums(28, skip=14, suffix="_prev4w"), on="student_id", how="left")
        .join(sums(ACTIVE_WINDOW_DAYS, suffix="_active"), on="student_id", how="left")
        .join(last_active, on="student_id", how="left")
        .join(courses, on="student_id", how="left")
        .with_columns(cs.numeric().fill_null(0))
    )

    def rate(done: str, seen: str) -> pl.Expr:
        return pl.when(pl.col(seen) > 0).then(pl.col(done) / pl.col(seen)).otherwise(0.0)

    since_join = (pl.lit(as_of) - pl.col("joined_local_date")).dt.total_days()
    quiet = (pl.lit(as_of) - pl.col("last_active")).dt.total_days()
    return frame.select(
        pl.col("student_id"),
        pl.lit(as_of).alias("as_of_date"),
        pl.col("sessions_1w").cast(pl.Float64).alias("sessions_last_1w"),
        (pl.col("sessions_4w") / 4.0).alias("sessions_per_week_4w"),
        # Never active in the lookback: as long as the lookback or the tenure, whichever is shorter.
        pl.when(pl.col("last_active").is_not_null())
        .then(quiet)
        .otherwise(pl.min_horizontal(since_join, pl.lit(LOOKBACK_DAYS)))
        .cast(pl.Float64)
        .alias("days_since_last_activity"),
        pl.col("active_days_4w").cast(pl.Float64),
        pl.col("minutes_4w").cast(pl.Float64).round(2).alias("active_minutes_4w"),
        rate("completions_4w", "sessions_4w").alias("completion_rate_4w"),
        (rate("completions_2w", "sessions_2w") - rate("completions_prev4w", "sessions_prev4w")).alias(
            "completion_rate_trend"
        ),
        (pl.col("xp_4w") / 4.0).alias("xp_per_week_4w"),
        pl.col("tasks_4w").cast(pl.Float64).alias("tasks_done_4w"),
        pl.col("notes_4w").cast(pl.Float64),
        pl.col("calendar_4w").cast(pl.Float64).round(2).alias("calendar_study_minutes_4w"),
        since_join.cast(pl.Float64).alias("tenure_days"),
        pl.col("active_courses_4w").cast(pl.Float64),
        (pl.col("active_days_active") > 0).alias("is_active"),
    ).sort("student_id")


def features_for(daily: pl.DataFrame, views: pl.DataFrame, students: pl.DataFrame,
                 as_of_dates: Iterable[dt.date]) -> pl.DataFrame:
    """Features for several as-of dates (one polars pass per date: a partition loop, not a row loop)."""
    frames = [features_as_of(daily, views, students, d) for d in sorted(set(as_of_dates))]
    return pl.concat(frames) if frames else empty_features()


def empty_features() -> pl.DataFrame:
    schema = {"student_id": pl.Utf8, "as_of_date": pl.Date, **{f: pl.Float64 for f in FEATURES}, "is_active": pl.Boolean}
    return pl.DataFrame(schema=schema)


def churn_labels(daily: pl.DataFrame, keys: pl.DataFrame, horizon_days: int, watermark: dt.date) -> pl.DataFrame:
    """`churned` per (student_id, as_of_date) in `keys`: no platform activity in [as_of, as_of + horizon).

    Only as-of dates whose horizon has fully passed by `watermark` (the first day without data) get a
    label; the others are dropped, so training never sees an unfinished future.
    """
    horizon = dt.timedelta(days=horizon_days)
    labelled = keys.filter(pl.col("as_of_date") + horizon <= watermark).select("student_id", "as_of_date")
    active_days = daily.filter(platform_activity(daily)).select("student_id", "activity_date")
    hits = (
        labelled.join(active_days, on="student_id", how="inner")
        .filter((pl.col("activity_date") >= pl.col("as_of_date")) & (pl.col("activity_date") < pl.col("as_of_date") + horizon))
        .select("student_id", "as_of_date")
        .unique()
        .with_columns(pl.lit(False).alias("churned"))
    )
    return labelled.join(hits, on=["student_id", "as_of_date"], how="left").with_columns(
        pl.col("churned").fill_null(True)
    )
