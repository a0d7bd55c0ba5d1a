"""The gold suites, run for real: Great Expectations 1.x against an embedded Postgres, through Dagster.

dbt builds the gold tables in production; here they are created with the same columns and filled
with a good data set, which every suite passes, and then broken one way at a time. Each break must
fail its suite with exactly the expected expectations named in the check's metadata, and a failing
suite must stop the assets downstream of its table within the same run.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg
import pytest

from resources.warehouse import WarehouseResource
from studentops_assets.quality.checks import GOLD_SUITE_CHECKS
from studentops_assets.quality.gx_runner import SAMPLE_ROWS, suite_fingerprint
from studentops_assets.quality.suites import GOLD_SUITES, STUDY_SESSIONS
from studentops_assets.quality import tested_windows  # (its tested_window would be collected as a test)

GOLD_TABLES_DDL = """
create schema if not exists marts;
drop table if exists marts.dim_courses, marts.dim_terms, marts.dim_assessments, marts.fact_study_sessions,
    marts.fact_notes_activity, marts.fact_material_views, marts.fact_daily_engagement;
create table marts.dim_courses (course_sk text, course_code text, course_name text);
create table marts.dim_terms (term_code text, academic_year text, semester int, starts_on date, ends_on date);
create table marts.dim_assessments (
    assessment_sk text, student_id text, note_path text, course_code text, due_date date, weight_pct numeric,
    status text, valid_from timestamptz, valid_to timestamptz null, is_current boolean, recorded_at timestamptz);
create table marts.fact_study_sessions (
    session_sk text, student_id text, event_id text, course_code text null, start_at timestamptz,
    duration_minutes numeric, source text);
create table marts.fact_notes_activity (
    note_sk text, student_id text, note_path text, note_type text, course_code text null, word_count int,
    modified_local_date date);
create table marts.fact_material_views (
    session_sk text, session_id text, student_id text, material_id text, course_code text, started_at timestamptz,
    active_seconds int, required_active_seconds int, completion_score numeric, is_complete bool);
create table marts.fact_daily_engagement (
    engagement_sk text, student_id text, activity_date date, sessions int, active_minutes numeric, completions int,
    xp int, tasks_done int, notes_edited int, calendar_study_minutes numeric);
"""

# Every suite passes on this, including its edge cases: weights summing to exactly 100, an undated
# and unweighted assessment, a deleted assessment (closed, no current version), a superseded version
# whose values would break the current-version rules, sessions without a course, a day of exactly
# 1440 active minutes.
GOOD_DATA = """
truncate marts.dim_courses, marts.dim_terms, marts.dim_assessments, marts.fact_study_sessions,
    marts.fact_notes_activity, marts.fact_material_views, marts.fact_daily_engagement;
insert into marts.dim_courses values ('c-cs101', 'CS101', 'Programming'), ('c-math201', 'MATH201', 'Analysis');
insert into marts.dim_terms values
    ('2025/2026-S1', '2025/2026', 1, '2025-09-01', '2026-01-31'),
    ('2025/2026-S2', '2025/2026', 2, '2026-02-01', '2026-06-30');
insert into marts.dim_assessments values
    ('a-mid-1', 'ada', 'CS101/midterm.md', 'CS101', '2025-11-15', 30, 'todo',
     '2025-10-01', '2025-10-10', false, '2025-10-01'),
    ('a-mid-2', 'ada', 'CS101/midterm.md', 'CS101', '2025-11-20', 40, 'in-progress',
     '2025-10-10', null, true, '2025-10-10'),
    ('a-fin-1', 'ada', 'CS101/final.md', 'CS101', '2025-07-15', 150, 'draft',
     '2025-09-15', '2025-10-01', false, '2025-09-15'),
    ('a-fin-2', 'ada', 'CS101/final.md', 'CS101', '2026-01-20', 60, 'todo',
     '2025-10-01', null, true, '2025-10-01'),
    ('a-essay', 'ada', 'MATH201/essay.md', 'MATH201', null, null, 'done',
     '2025-09-20', null, true, '2025-09-20'),
    ('a-quiz', 'ada', 'MATH201/quiz.md', 'MATH201', '2026-03-01', 10, 'graded',
     '2025-09-20', '2026-03-05', false, '2025-09-20'),
    ('b-lab', 'bob', 'CS101/lab.md', 'CS101', '2026-05-04', 100, 'submitted',
     '2026-02-01', null, true, '2026-02-01');
insert into marts.fact_study_sessions values
    ('s-ical', 'ada', 'ev-1', 'CS101', '2025-10-01 09:00+00', 90, 'ical'),
    ('s-gcal', 'ada', 'ev-2', null, '2025-10-02 14:00+00', 45.5, 'gcal'),
    ('s-platform', 'bob', 'pv-1', 'MATH201', '2025-10-03 20:00+00', 1439.99, 'platform');
insert into marts.fact_notes_activity values
    ('n-1', 'ada', 'CS101/lecture-01.md', 'lecture', 'CS101', 420, '2025-10-01'),
    ('n-2', 'ada', 'daily/2025-10-02.md', 'daily', null, 0, '2025-10-02');
insert into marts.fact_material_views values
    ('m-1', 'pv-1', 'bob', 'mat-1', 'MATH201', '2025-10-03 20:00+00', 600, 600, 1, true),
    ('m-2', 'pv-2', 'bob', 'mat-2', 'CS101', '2025-10-04 20:00+00', 0, 300, 0, false);
insert into marts.fact_daily_engagement values
    ('e-1', 'bob', '2025-10-03', 1, 1440, 1, 10, 2, 1, 90),
    ('e-2', 'bob', '2025-10-04', 0, 0, 0, 0, 0, 0, 0),
    ('e-3', 'ada', '2025-10-03', 0, 0, 0, 0, 0, 0, 0);
"""


def run_sql(warehouse, statement: str) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(statement)
        rows = cur.fetchall() if cur.description else []
        conn.commit()
    return rows


@pytest.fixture(scope="module")
def warehouse(new_home):
    _, warehouse = new_home(students=[{"id": "ada", "slug": "ada"}])
    run_sql(warehouse, GOLD_TABLES_DDL)
    return warehouse


@pytest.fixture
def good_data(warehouse):
    run_sql(warehouse, GOOD_DATA)
    return warehouse


def gold_specs() -> list[dg.AssetSpec]:
    tables = ["dim_courses", "dim_terms", *(s.table for s in GOLD_SUITES)]
    return [dg.AssetSpec(["marts", t]) for t in dict.fromkeys(tables)]


def run_check(warehouse, check: dg.AssetChecksDefinition, instance: dg.DagsterInstance | None = None,
              ) -> tuple[dg.ExecuteInProcessResult, dg.AssetCheckEvaluation]:
    """Execute one check alone, as Dagster runs it: a job selecting only the check. A fresh instance
    (no earlier evaluation: the whole table) unless `instance` carries the check's history."""
    defs = dg.Definitions(
        assets=gold_specs(),
        asset_checks=[check],
        jobs=[dg.define_asset_job("gold_check", selection=dg.AssetSelection.checks(check))],
        resources={"warehouse": warehouse},
    )
    result = defs.resolve_job_def("gold_check").execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 1
    return result, evaluations[0]


CHECKS = {c.check_key.name: c for c in GOLD_SUITE_CHECKS}


def check_for(suite_name: str) -> dg.AssetChecksDefinition:
    return CHECKS[f"gx_{suite_name}"]


def test_every_gold_table_has_one_blocking_check():
    specs = [spec for check in GOLD_SUITE_CHECKS for spec in check.check_specs]
    assert sorted(spec.asset_key.to_user_string() for spec in specs) == [
        "marts/dim_assessments",
        "marts/fact_daily_engagement",
        "marts/fact_material_views",
        "marts/fact_notes_activity",
        "marts/fact_study_sessions",
    ]
    assert all(spec.blocking for spec in specs)
    by_name = {spec.name: spec for spec in specs}
    # Suites that join other dimensions wait for them when a run rebuilds them too.
    assert [d.asset_key for d in by_name["gx_assessments"].additional_deps] == [dg.AssetKey(["marts", "dim_terms"])]
    assert [d.asset_key for d in by_name["gx_study_sessions"].additional_deps] == [dg.AssetKey(["marts", "dim_courses"])]


@pytest.mark.parametrize("suite", GOLD_SUITES, ids=lambda s: s.name)
def test_suite_passes_on_good_data(good_data, suite):
    result, evaluation = run_check(good_data, check_for(suite.name))
    assert result.success
    assert evaluation.passed, evaluation.metadata["failed_expectations"].value
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    metadata = evaluation.metadata
    assert metadata["suite"].value == suite.name
    assert metadata["table"].value == f"marts.{suite.table}"
    assert metadata["failed_expectations"].value == []
    names = [e.meta["name"] for e in suite.expectations()]
    for name in names:
        entry = metadata[name].value
        assert entry["success"] is True
        assert entry["sample_unexpected_rows"] == []
        assert entry["unexpected_count"] in (0, None)
        assert "error" not in entry


# (suite, what breaks it, expectations that must fail and no other, (expectation, a sample row subset))
BREAKS = [
    pytest.param(
        "assessments",
        "insert into marts.dim_assessments values ('a-mid-x', 'ada', 'CS101/midterm.md', 'CS101', '2025-11-15', 30,"
        " 'todo', '2025-10-05', '2025-10-12', false, '2025-10-05')",
        {"scd2_ranges_do_not_overlap"},
        ("scd2_ranges_do_not_overlap", {"note_path": "CS101/midterm.md", "valid_to": "2025-10-10T00:00:00+00:00"}),
        id="assessments-overlapping-versions",
    ),
    pytest.param(
        "assessments",
        "insert into marts.dim_assessments values ('a-fin-3', 'ada', 'CS101/final.md', 'CS101', null, null, 'todo',"
        " '2026-01-01', null, true, '2026-01-01')",
        {"scd2_one_current_version", "scd2_ranges_do_not_overlap"},
        ("scd2_one_current_version", {"note_path": "CS101/final.md", "current_versions": 2}),
        id="assessments-two-current-versions",
    ),
    pytest.param(
        "assessments",
        "update marts.dim_assessments set weight_pct = 80 where assessment_sk = 'a-fin-2'",
        {"course_weights_at_most_100"},
        ("course_weights_at_most_100", {"student_id": "ada", "course_code": "CS101", "total_weight_pct": 120.0}),
        id="assessments-weights-sum-to-120",
    ),
    pytest.param(
        "assessments",
        "update marts.dim_assessments set due_date = '2026-08-01' where assessment_sk = 'a-essay'",
        {"due_date_within_a_term"},
        ("due_date_within_a_term", {"note_path": "MATH201/essay.md", "due_date": "2026-08-01"}),
        id="assessments-due-date-outside-every-term",
    ),
    pytest.param(
        "assessments",
        "update marts.dim_assessments set weight_pct = -5 where assessment_sk = 'a-essay'",
        {"weight_pct_between_0_and_100"},
        ("weight_pct_between_0_and_100", {"note_path": "MATH201/essay.md", "weight_pct": -5.0}),
        id="assessments-negative-weight",
    ),
    pytest.param(
        "assessments",
        "update marts.dim_assessments set status = 'wip' where assessment_sk = 'a-essay'",
        {"status_accepted"},
        ("status_accepted", {"note_path": "MATH201/essay.md", "status": "wip"}),
        id="assessments-unknown-status",
    ),
    pytest.param(
        "assessments",
        "update marts.dim_assessments set valid_to = '2025-09-01' where assessment_sk = 'a-mid-1'",
        {"scd2_valid_from_before_valid_to"},
        ("scd2_valid_from_before_valid_to", {"note_path": "CS101/midterm.md"}),
        id="assessments-range-ends-before-it-starts",
    ),
    pytest.param(
        "assessments",
        "update marts.dim_assessments set is_current = true where assessment_sk = 'a-quiz'",
        {"scd2_current_flag_matches_open_range"},
        ("scd2_current_flag_matches_open_range", {"note_path": "MATH201/quiz.md", "is_current": True}),
        id="assessments-closed-version-flagged-current",
    ),
    pytest.param(
        "study_sessions",
        "update marts.fact_study_sessions set duration_minutes = 1500 where session_sk = 's-ical'",
        {"duration_minutes_between_0_and_1440"},
        ("duration_minutes_between_0_and_1440", {"session_sk": "s-ical", "duration_minutes": 1500.0}),
        id="study-sessions-25-hour-session",
    ),
    pytest.param(
        "study_sessions",
        "update marts.fact_study_sessions set duration_minutes = -5 where session_sk = 's-gcal'",
        {"duration_minutes_between_0_and_1440"},
        ("duration_minutes_between_0_and_1440", {"session_sk": "s-gcal", "duration_minutes": -5.0}),
        id="study-sessions-negative-duration",
    ),
    pytest.param(
        "study_sessions",
        "update marts.fact_study_sessions set course_code = 'BIO999' where session_sk = 's-gcal'",
        {"course_code_in_dim_courses"},
        ("course_code_in_dim_courses", {"session_sk": "s-gcal", "course_code": "BIO999"}),
        id="study-sessions-orphan-course",
    ),
    pytest.param(
        "study_sessions",
        "update marts.fact_study_sessions set source = 'outlook' where session_sk = 's-gcal'",
        {"source_accepted"},
        ("source_accepted", {"session_sk": "s-gcal", "source": "outlook"}),
        id="study-sessions-unknown-source",
    ),
    pytest.param(
        "study_sessions",
        "insert into marts.fact_study_sessions values ('s-ical', 'ada', 'ev-9', null, '2025-10-09 09:00+00', 30, 'ical')",
        {"session_sk_unique"},
        ("session_sk_unique", {"session_sk": "s-ical"}),
        id="study-sessions-duplicate-key",
    ),
    pytest.param(
        "notes_activity",
        "update marts.fact_notes_activity set word_count = -1 where note_sk = 'n-2'",
        {"word_count_not_negative"},
        ("word_count_not_negative", {"note_sk": "n-2", "word_count": -1}),
        id="notes-negative-word-count",
    ),
    pytest.param(
        "notes_activity",
        "insert into marts.fact_notes_activity values ('n-1', 'ada', 'x.md', 'note', null, 3, '2025-10-05')",
        {"note_sk_unique"},
        ("note_sk_unique", {"note_sk": "n-1"}),
        id="notes-duplicate-key",
    ),
    pytest.param(
        "notes_activity",
        "update marts.fact_notes_activity set course_code = 'HIST100' where note_sk = 'n-1'",
        {"course_code_in_dim_courses"},
        ("course_code_in_dim_courses", {"note_sk": "n-1", "course_code": "HIST100"}),
        id="notes-orphan-course",
    ),
    pytest.param(
        "material_views",
        "update marts.fact_material_views set completion_score = 1.5 where session_sk = 'm-1'",
        {"completion_score_between_0_and_1"},
        ("completion_score_between_0_and_1", {"session_sk": "m-1", "completion_score": 1.5}),
        id="material-views-score-above-1",
    ),
    pytest.param(
        "material_views",
        "update marts.fact_material_views set active_seconds = -1 where session_sk = 'm-2'",
        {"active_seconds_not_negative"},
        ("active_seconds_not_negative", {"session_sk": "m-2", "active_seconds": -1}),
        id="material-views-negative-active-time",
    ),
    pytest.param(
        "material_views",
        "update marts.fact_material_views set course_code = 'XX000' where session_sk = 'm-2'",
        {"course_code_in_dim_courses"},
        ("course_code_in_dim_courses", {"session_sk": "m-2", "course_code": "XX000"}),
        id="material-views-orphan-course",
    ),
    pytest.param(
        "daily_engagement",
        "insert into marts.fact_daily_engagement values ('e-9', 'bob', '2025-10-03', 0, 0, 0, 0, 0, 0, 0)",
        {"one_row_per_student_day"},
        ("one_row_per_student_day", {"student_id": "bob", "activity_date": "2025-10-03"}),
        id="daily-engagement-two-rows-for-one-day",
    ),
    pytest.param(
        "daily_engagement",
        "update marts.fact_daily_engagement set xp = -10, tasks_done = -1 where engagement_sk = 'e-2'",
        {"xp_not_negative", "tasks_done_not_negative"},
        ("xp_not_negative", {"student_id": "bob", "activity_date": "2025-10-04", "xp": -10}),
        id="daily-engagement-negative-counters",
    ),
    pytest.param(
        "daily_engagement",
        "update marts.fact_daily_engagement set active_minutes = 1500 where engagement_sk = 'e-1'",
        {"active_minutes_at_most_a_day"},
        ("active_minutes_at_most_a_day", {"student_id": "bob", "active_minutes": 1500.0}),
        id="daily-engagement-more-than-a-day",
    ),
]


@pytest.mark.parametrize("suite_name, breakage, expected_failures, expected_sample", BREAKS)
def test_suite_fails_on_broken_data(good_data, suite_name, breakage, expected_failures, expected_sample):
    run_sql(good_data, breakage)
    result, evaluation = run_check(good_data, check_for(suite_name))

    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    metadata = evaluation.metadata
    assert metadata["suite"].value == suite_name
    assert set(metadata["failed_expectations"].value) == expected_failures
    for name in expected_failures:
        entry = metadata[name].value
        assert entry["success"] is False
        assert entry["unexpected_count"] >= 1
        assert "error" not in entry
    name, sample_subset = expected_sample
    samples = metadata[name].value["sample_unexpected_rows"]
    assert any(sample_subset.items() <= row.items() for row in samples), samples
    assert f"{len(expected_failures)} of" in evaluation.description
    # A failing ERROR check of a blocking suite fails its step, hence the run.
    assert not result.success


def test_samples_are_bounded_while_the_count_is_complete(good_data):
    run_sql(
        good_data,
        "insert into marts.fact_study_sessions "
        "select 'bad-' || i, 'ada', 'ev-bad-' || i, null, '2025-10-01 09:00+00', 2000 + i, 'ical' "
        "from generate_series(1, 250) as i",
    )
    _, evaluation = run_check(good_data, check_for("study_sessions"))
    entry = evaluation.metadata["duration_minutes_between_0_and_1440"].value
    assert entry["unexpected_count"] == 250
    assert len(entry["sample_unexpected_rows"]) == SAMPLE_ROWS

    run_sql(
        good_data,
        "truncate marts.fact_study_sessions; insert into marts.fact_study_sessions "
        "select 'orphan-' || i, 'ada', 'ev-' || i, 'NOPE' || i, '2025-10-01 09:00+00', 30, 'ical' "
        "from generate_series(1, 300) as i",
    )
    _, evaluation = run_check(good_data, check_for("study_sessions"))
    entry = evaluation.metadata["course_code_in_dim_courses"].value
    # The count is GX's count(*) over the query, not the rows it fetched (it fetches at most 200).
    assert entry["unexpected_count"] == 300
    assert len(entry["sample_unexpected_rows"]) == SAMPLE_ROWS


def blocking_run(warehouse, sessions_sql: str) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    """One run of: the upstream table -> its blocking suite -> a downstream report.

    The upstream asset writes marts.fact_study_sessions as dbt would; the report records that it ran.
    """
    reports: list[str] = []

    @dg.asset(key=["marts", "fact_study_sessions"])
    def fact_study_sessions(warehouse: WarehouseResource) -> None:
        run_sql(warehouse, f"truncate marts.fact_study_sessions; {sessions_sql}")

    @dg.asset(deps=[fact_study_sessions])
    def weekly_study_report() -> None:
        reports.append("ran")

    check = check_for(STUDY_SESSIONS.name)
    defs = dg.Definitions(
        assets=[*(s for s in gold_specs() if s.key != fact_study_sessions.key), fact_study_sessions, weekly_study_report],
        asset_checks=[check],
        jobs=[
            dg.define_asset_job(
                "sessions_then_report",
                selection=dg.AssetSelection.assets(fact_study_sessions, weekly_study_report)
                | dg.AssetSelection.checks(check),
            )
        ],
        resources={"warehouse": warehouse},
    )
    result = defs.resolve_job_def("sessions_then_report").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    return result, reports


GOOD_SESSIONS = (
    "insert into marts.fact_study_sessions values "
    "('s-1', 'ada', 'ev-1', 'CS101', '2025-10-01 09:00+00', 90, 'ical')"
)
# A 25-hour calendar block: the kind of row the suite exists to stop.
BROKEN_SESSIONS = (
    "insert into marts.fact_study_sessions values "
    "('s-1', 'ada', 'ev-1', 'CS101', '2025-10-01 09:00+00', 1500, 'ical')"
)


def test_passing_suite_lets_downstream_run(good_data):
    result, reports = blocking_run(good_data, GOOD_SESSIONS)
    assert result.success
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True]
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {dg.AssetKey(["marts", "fact_study_sessions"]), dg.AssetKey("weekly_study_report")}
    assert reports == ["ran"]
    # The report waited for the suite: blocking wires the check into the report's dependencies.
    events = [(e.event_type, e.step_key) for e in result.all_events]
    check_succeeded = events.index((dg.DagsterEventType.STEP_SUCCESS, "marts__fact_study_sessions_gx_study_sessions"))
    assert check_succeeded < events.index((dg.DagsterEventType.STEP_START, "weekly_study_report"))


def started_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START]


def test_failing_suite_blocks_downstream_in_the_same_run(good_data):
    result, reports = blocking_run(good_data, BROKEN_SESSIONS)

    assert not result.success
    # The table itself was built; its suite ran on it and failed ...
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {dg.AssetKey(["marts", "fact_study_sessions"])}
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert evaluation.metadata["failed_expectations"].value == ["duration_minutes_between_0_and_1440"]
    # ... and the report downstream never started.
    assert reports == []
    assert "weekly_study_report" not in started_steps(result)
    assert result.is_node_untouched("weekly_study_report")
    assert result.get_failed_step_keys() == {"marts__fact_study_sessions_gx_study_sessions"}


def test_validation_stays_offline_writes_no_files_and_leaves_no_connections(good_data, tmp_path, monkeypatch):
    """GX runs in-process here: any attempt to open a non-local socket, or to write a GX project into
    the working directory, would show; and the check must close the connections it opened."""
    real_connect = socket.socket.connect
    attempts: list[object] = []

    def local_only(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family != socket.AF_UNIX and host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(address)
            raise OSError(f"test forbids network access to {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", local_only)
    monkeypatch.chdir(tmp_path)
    others = (
        "select count(*) from pg_stat_activity "
        "where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'"
    )
    before = run_sql(good_data, others)[0][0]

    for check in GOLD_SUITE_CHECKS:
        _, evaluation = run_check(good_data, check)
        assert evaluation.passed

    assert attempts == []
    assert os.environ["GX_ANALYTICS_ENABLED"] == "false"
    assert list(Path(tmp_path).iterdir()) == []
    assert run_sql(good_data, others)[0][0] == before


def test_a_column_dbt_no_longer_builds_fails_the_suite_with_the_error(good_data):
    """Schema drift: GX cannot compute the expectation, reports it failed with the database's error,
    and the check fails rather than passing silently."""
    run_sql(good_data, "alter table marts.fact_study_sessions rename column source to origin")
    try:
        _, evaluation = run_check(good_data, check_for("study_sessions"))
    finally:
        run_sql(good_data, "alter table marts.fact_study_sessions rename column origin to source")
    assert not evaluation.passed
    assert evaluation.metadata["failed_expectations"].value == ["source_accepted"]
    entry = evaluation.metadata["source_accepted"].value
    assert entry["success"] is False
    assert "source" in entry["error"]
    assert len(entry["error"]) <= 200


def test_an_incremental_fact_is_validated_from_where_its_suite_last_passed(good_data):
    """fact_material_views declares the window its runs rewrite (two days before its latest session,
    dbt config meta.tested_window): after a passing validation, the suite reads only that window from
    the session it had reached. A failure records nothing, so its rows are read again until fixed; a
    rewritten table file (full refresh, truncate) is validated whole."""
    instance = dg.DagsterInstance.ephemeral()
    check = check_for("material_views")

    def validate() -> dg.AssetCheckEvaluation:
        return run_check(good_data, check, instance)[1]

    first = validate()
    assert first.passed
    assert first.metadata["validated_rows"].value == "whole table"
    assert first.metadata["validated_through"].value == "2025-10-04 20:00:00+00"

    # A broken row appears before the window (where no run of the model writes), a new session
    # arrives: the suite reads the window only.
    run_sql(good_data, "insert into marts.fact_material_views values "
                       "('m-0', 'pv-0', 'bob', 'mat-1', 'CS101', '2025-09-20 08:00+00', 60, 600, 5, true),"
                       "('m-3', 'pv-3', 'bob', 'mat-1', 'CS101', '2025-10-06 08:00+00', 60, 600, 0.1, false)")
    windowed = validate()
    assert windowed.passed
    assert windowed.metadata["validated_rows"].value == (
        "(started_at >= '2025-10-04 20:00:00+00'::timestamptz - interval '2 days')")
    assert windowed.metadata["validated_through"].value == "2025-10-06 08:00:00+00"
    # The same table validated whole (a fresh instance: no history) does see the old row.
    whole = run_check(good_data, check)[1]
    assert whole.metadata["failed_expectations"].value == ["completion_score_between_0_and_1"]
    run_sql(good_data, "delete from marts.fact_material_views where session_sk = 'm-0'")

    # A lookup in another table reads the whole table all the same: an old session whose course is
    # not (or no longer) in dim_courses fails the windowed validation too.
    run_sql(good_data, "insert into marts.fact_material_views values "
                       "('m-9', 'pv-9', 'bob', 'mat-1', 'XX999', '2025-09-21 08:00+00', 60, 600, 0.5, false)")
    orphan = validate()
    assert orphan.metadata["validated_rows"].value == windowed.metadata["validated_rows"].value.replace(
        "2025-10-04 20:00:00+00", "2025-10-06 08:00:00+00")
    assert orphan.metadata["failed_expectations"].value == ["course_code_in_dim_courses"]
    run_sql(good_data, "delete from marts.fact_material_views where session_sk = 'm-9'")

    # A broken new session fails the suite, and keeps failing it after newer good sessions arrive.
    run_sql(good_data, "insert into marts.fact_material_views values "
                       "('m-4', 'pv-4', 'bob', 'mat-2', 'CS101', '2025-10-07 08:00+00', -5, 600, 0.2, false)")
    failed = validate()
    assert failed.metadata["failed_expectations"].value == ["active_seconds_not_negative"]
    assert failed.metadata["validated_rows"].value == (
        "(started_at >= '2025-10-06 08:00:00+00'::timestamptz - interval '2 days')")
    run_sql(good_data, "insert into marts.fact_material_views values "
                       "('m-5', 'pv-5', 'bob', 'mat-2', 'CS101', '2025-10-12 08:00+00', 30, 600, 0.05, false)")
    still = validate()
    assert still.metadata["failed_expectations"].value == ["active_seconds_not_negative"]
    assert still.metadata["validated_rows"].value == failed.metadata["validated_rows"].value
    run_sql(good_data, "update marts.fact_material_views set active_seconds = 5 where session_sk = 'm-4'")
    fixed = validate()
    assert fixed.passed and fixed.metadata["validated_through"].value == "2025-10-12 08:00:00+00"

    # The mark belongs to this version of the suite: another version's mark validates the whole table.
    assert fixed.metadata["suite_fingerprint"].value == suite_fingerprint(next(x for x in GOLD_SUITES if x.name == "material_views"))
    window = tested_windows.tested_window("marts.fact_material_views")
    mark = {"through": fixed.metadata["validated_through"].value,
            "filenode": fixed.metadata["relation_filenode"].value, "fingerprint": "an older suite"}
    with good_data.connection() as conn, conn.cursor() as cur:
        assert tested_windows.validation_scope(cur, "marts.fact_material_views", window, mark, fingerprint="this suite").whole_table
        mark["fingerprint"] = "this suite"
        assert not tested_windows.validation_scope(cur, "marts.fact_material_views", window, mark, fingerprint="this suite").whole_table

    # The table rewritten (truncate gives it a new file): validated whole again.
    run_sql(good_data, GOOD_DATA)
    assert validate().metadata["validated_rows"].value == "whole table"
