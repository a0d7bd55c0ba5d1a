"""The expectation suites of the gold tables (schema `marts`), one per guarded table.

Column rules are GX's own expectations; rules across rows or tables (sums, SCD2 ranges, lookups in
other dimensions) are `UnexpectedRowsExpectation`s whose SQL returns the offending rows. Either way
GX compiles them to SQL that runs in Postgres. Every expectation has a stable `meta.name`: the check
reports its outcome under that key.

GX substitutes `{batch}` with an already aliased subquery unless the SQL contains a JOIN, in which
case the SQL must alias it itself: lookups in other tables are therefore written as anti-joins
(`left join ... where <other key> is null`) with `{batch} as <alias>`, the other rules name no alias.

Value rules on dim_assessments look at current versions only: the history records what a note
said at the time, and a typo the student has since fixed must not fail the check for ever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .gx_runner import MARTS, GoldSuite

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

ASSESSMENT_STATUSES = ("todo", "in-progress", "submitted", "graded", "done")
STUDY_SESSION_SOURCES = ("ical", "gcal", "platform")
MINUTES_PER_DAY = 1440


def _gxe():
    # Imported on first use, after gx_runner has switched GX analytics off (see gx_runner).
    import great_expectations.expectations as gxe

    return gxe


def _named(name: str) -> dict[str, str]:
    return {"name": name}


def _current_versions():
    from great_expectations.expectations.row_conditions import Column

    return Column("is_current") == True  # noqa: E712 -- GX builds its row condition from ==


def _course_code_in_dim_courses(key: str) -> "Expectation":
    # whole_table: a course that leaves dim_courses orphans old rows too, not only the newest.
    return _gxe().UnexpectedRowsExpectation(
        description="Every course_code is null or a course of marts.dim_courses.",
        meta={"name": "course_code_in_dim_courses", "whole_table": True},
        unexpected_rows_query=f"""
            select f.{key}, f.course_code
            from {{batch}} as f
            left join {MARTS}.dim_courses as c on c.course_code = f.course_code
            where f.course_code is not null and c.course_code is null
        """,
    )


def _no_duplicates(columns: list[str], description: str, name: str) -> "Expectation":
    """Rows that share `columns` (rows with every one of them null are left to the not-null rules).

    GX's own ExpectColumnValuesToBeUnique / ExpectCompoundColumnsToBeUnique compile to a self-join of
    the table with its grouped counts, run twice (count, then samples): 10 s of a 1.8M-row table where
    this GROUP BY takes under one. The offending keys come back with how many rows share them."""
    keys = ", ".join(columns)
    some_set = " or ".join(f"{c} is not null" for c in columns)
    return _gxe().UnexpectedRowsExpectation(
        description=description,
        meta=_named(name),
        unexpected_rows_query=f"""
            select {keys}, count(*) as rows_sharing_key
            from {{batch}}
            where {some_set}
            group by {keys}
            having count(*) > 1
        """,
    )


def _unique_key(gxe, column: str) -> list["Expectation"]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=column, description=f"{column} is set.", meta=_named(f"{column}_not_null")),
        _no_duplicates([column], f"{column} is unique.", f"{column}_unique"),
    ]


def assessment_expectations() -> list["Expectation"]:
    gxe = _gxe()
    current = _current_versions()
    return [
        *_unique_key(gxe, "assessment_sk"),
        gxe.ExpectColumnValuesToBeBetween(
            column="weight_pct", min_value=0, max_value=100, row_condition=current,
            description="A current assessment weighs between 0 and 100 percent.",
            meta=_named("weight_pct_between_0_and_100"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="status", value_set=list(ASSESSMENT_STATUSES), row_condition=current,
            description=f"A current assessment's status is one of {', '.join(ASSESSMENT_STATUSES)}.",
            meta=_named("status_accepted"),
        ),
        gxe.UnexpectedRowsExpectation(
            description="The current assessments of one student in one course weigh at most 100 percent together.",
            meta=_named("course_weights_at_most_100"),
            unexpected_rows_query="""
                select student_id, course_code, sum(weight_pct) as total_weight_pct, count(*) as weighted_assessments
                from {batch}
                where is_current and course_code is not null and weight_pct is not null
                group by student_id, course_code
                having sum(weight_pct) > 100
            """,
        ),
        gxe.UnexpectedRowsExpectation(
            description="A current assessment's due date, when it has one, falls inside an academic term (marts.dim_terms).",
            meta=_named("due_date_within_a_term"),
            unexpected_rows_query=f"""
                select a.student_id, a.note_path, a.due_date
                from {{batch}} as a
                left join {MARTS}.dim_terms as t on a.due_date between t.starts_on and t.ends_on
                where a.is_current and a.due_date is not null and t.starts_on is null
            """,
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="valid_to", column_B="valid_from", or_equal=False, ignore_row_if="either_value_is_missing",
            description="A closed version ends after it starts (valid_from < valid_to).",
            meta=_named("scd2_valid_from_before_valid_to"),
        ),
        gxe.UnexpectedRowsExpectation(
            description="is_current is true exactly when the version is open (valid_to is null).",
            meta=_named("scd2_current_flag_matches_open_range"),
            unexpected_rows_query="""
                select student_id, note_path, valid_from, valid_to, is_current
                from {batch}
                where is_current is distinct from (valid_to is null)
            """,
        ),
        gxe.UnexpectedRowsExpectation(
            # At most, not exactly, one: the snapshot invalidates deleted notes (hard_deletes =
            # 'invalidate'), so an assessment the student deleted rightly has no current version.
            description="An assessment (student_id, note_path) has at most one current version.",
            meta=_named("scd2_one_current_version"),
            unexpected_rows_query="""
                select student_id, note_path, count(*) as current_versions
                from {batch}
                where is_current and valid_to is null
                group by student_id, note_path
                having count(*) > 1
            """,
        ),
        gxe.UnexpectedRowsExpectation(
            # Sorted by start, two versions overlap only if some version starts before the one
            # before it ends, so comparing neighbours finds every overlap without a self-join.
            description="The validity ranges of one assessment's versions never overlap.",
            meta=_named("scd2_ranges_do_not_overlap"),
            unexpected_rows_query="""
                select student_id, note_path, valid_from, valid_to, next_valid_from
                from (
                    select student_id, note_path, valid_from, valid_to,
                           lead(valid_from) over (
                               partition by student_id, note_path order by valid_from, valid_to nulls last
                           ) as next_valid_from
                    from {batch}
                ) as versions
                where next_valid_from < coalesce(valid_to, 'infinity'::timestamptz)
            """,
        ),
    ]


def study_session_expectations() -> list["Expectation"]:
    gxe = _gxe()
    return [
        *_unique_key(gxe, "session_sk"),
        gxe.ExpectColumnValuesToNotBeNull(
            column="duration_minutes", description="Every session has a duration.",
            meta=_named("duration_minutes_not_null"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="duration_minutes", min_value=0, max_value=MINUTES_PER_DAY, strict_min=True, strict_max=True,
            description="A session lasts more than nothing and less than a day (0 < minutes < 1440).",
            meta=_named("duration_minutes_between_0_and_1440"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="source", value_set=list(STUDY_SESSION_SOURCES),
            description=f"source is one of {', '.join(STUDY_SESSION_SOURCES)}.",
            meta=_named("source_accepted"),
        ),
        _course_code_in_dim_courses("session_sk"),
    ]


def notes_activity_expectations() -> list["Expectation"]:
    gxe = _gxe()
    return [
        *_unique_key(gxe, "note_sk"),
        gxe.ExpectColumnValuesToBeBetween(
            column="word_count", min_value=0, description="word_count is not negative.",
            meta=_named("word_count_not_negative"),
        ),
        _course_code_in_dim_courses("note_sk"),
    ]


def material_view_expectations() -> list["Expectation"]:
    gxe = _gxe()
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="completion_score", min_value=0, max_value=1,
            description="completion_score is a share, between 0 and 1.",
            meta=_named("completion_score_between_0_and_1"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="active_seconds", min_value=0, description="active_seconds is not negative.",
            meta=_named("active_seconds_not_negative"),
        ),
        _course_code_in_dim_courses("session_sk"),
    ]


DAILY_ENGAGEMENT_COUNTERS = (
    "sessions", "active_minutes", "completions", "xp", "tasks_done", "notes_edited", "calendar_study_minutes",
)


def daily_engagement_expectations() -> list["Expectation"]:
    gxe = _gxe()
    return [
        _no_duplicates(["student_id", "activity_date"], "One row per student and day.", "one_row_per_student_day"),
        *(
            gxe.ExpectColumnValuesToBeBetween(
                column=counter, min_value=0, description=f"{counter} is not negative.",
                meta=_named(f"{counter}_not_negative"),
            )
            for counter in DAILY_ENGAGEMENT_COUNTERS
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="active_minutes", max_value=MINUTES_PER_DAY,
            description="A day holds at most 1440 active minutes.",
            meta=_named("active_minutes_at_most_a_day"),
        ),
    ]


ASSESSMENTS = GoldSuite(
    name="assessments",
    table="dim_assessments",
    description="Assessment history: weights, statuses, due dates inside a term, and well-formed SCD2 versions.",
    row_key=("student_id", "note_path", "valid_from"),
    expectations=assessment_expectations,
    reads=("dim_terms",),
)
STUDY_SESSIONS = GoldSuite(
    name="study_sessions",
    table="fact_study_sessions",
    description="Study sessions: unique keys, durations under a day, known sources and courses.",
    row_key=("session_sk",),
    expectations=study_session_expectations,
    reads=("dim_courses",),
)
NOTES_ACTIVITY = GoldSuite(
    name="notes_activity",
    table="fact_notes_activity",
    description="Notes activity: unique keys, word counts, known courses.",
    row_key=("note_sk",),
    expectations=notes_activity_expectations,
    reads=("dim_courses",),
)
MATERIAL_VIEWS = GoldSuite(
    name="material_views",
    table="fact_material_views",
    description="Material views: completion scores as shares, active time, known courses.",
    row_key=("session_sk",),
    expectations=material_view_expectations,
    reads=("dim_courses",),
)
DAILY_ENGAGEMENT = GoldSuite(
    name="daily_engagement",
    table="fact_daily_engagement",
    description="Daily engagement: one row per student and day, counters not negative, at most a day of activity.",
    row_key=("student_id", "activity_date"),
    expectations=daily_engagement_expectations,
)

GOLD_SUITES = (ASSESSMENTS, STUDY_SESSIONS, NOTES_ACTIVITY, MATERIAL_VIEWS, DAILY_ENGAGEMENT)
