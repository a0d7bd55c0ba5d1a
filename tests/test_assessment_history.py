"""SCD2 assessments: valid_from is the student's own change time, not the run time."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import yaml

from .conftest import Home, free_port

STUDENT = "7c1e2d44-0b8f-4d1e-9a51-2f0e6b1c3d55"
# Every run takes only the assets on the assessment path: the rest of the graph (platform marts, ML,
# embeddings, digests) reads nothing this module checks and took minutes.
ASSESSMENT_PATH = (
    "key:raw/notes or key:staging/stg_notes or key:snapshots/assessments_snapshot or key:marts/dim_assessments"
)
# The first run also builds what dim_assessments' checks read on a fresh warehouse: dim_courses (its
# relationships test; with its platform replicas, empty here, no platform is configured) and
# dim_terms (the gx_assessments suite's due-date rule; not an upstream of dim_assessments in the graph).
FIRST_RUN = "+key:marts/dim_assessments or +key:marts/dim_courses or +key:marts/dim_terms"
UTC = dt.timezone.utc


def write_assessment(path: Path, due: str, weight: int, status: str, updated: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\ntype: assessment\ncourse: CS101\ndue: {due}\nweight: {weight}\nstatus: {status}\n"
        f"updated: {updated}\n---\n# Essay\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def history_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("history-home"), free_port())
    (home.path / "studentops.yaml").write_text(
        yaml.safe_dump({"timezone": "Europe/Amsterdam", "students": [{"id": STUDENT, "slug": "kim"}]})
    )
    note = home.path / "vault/kim/assessments/essay.md"
    # Three versions, each written by the student at a known local time (Amsterdam, CET in winter).
    write_assessment(note, "2026-12-04", 30, "todo", "2026-11-02T10:00:00")
    home.cli("materialize", "--select", FIRST_RUN)
    write_assessment(note, "2026-12-11", 30, "in-progress", "2026-11-09T18:30:00")
    home.cli("materialize", "--select", ASSESSMENT_PATH)
    write_assessment(note, "2026-12-11", 35, "submitted", "2026-11-16T09:15:00")
    home.cli("materialize", "--select", ASSESSMENT_PATH)
    yield home
    home.stop()


def test_three_versions_with_source_time_validity(history_home):
    versions = history_home.query(
        "select due_date, weight_pct, status, valid_from, valid_to, is_current, recorded_at "
        "from marts.dim_assessments where student_id = %s order by valid_from",
        (STUDENT,),
    )
    assert [(v[0], float(v[1]), v[2]) for v in versions] == [
        (dt.date(2026, 12, 4), 30.0, "todo"),
        (dt.date(2026, 12, 11), 30.0, "in-progress"),
        (dt.date(2026, 12, 11), 35.0, "submitted"),
    ]
    starts = [dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC), dt.datetime(2026, 11, 9, 17, 30, tzinfo=UTC),
              dt.datetime(2026, 11, 16, 8, 15, tzinfo=UTC)]
    assert [v[3] for v in versions] == starts
    # Each version ends where the next begins; only the last is current.
    assert [v[4] for v in versions] == [starts[1], starts[2], None]
    assert [v[5] for v in versions] == [False, False, True]
    # recorded_at is the run time: later than the source times, and distinct per run.
    recorded = [v[6] for v in versions]
    assert all(r > s for r, s in zip(recorded, starts)) and len(set(recorded)) == 3


def test_what_was_due_on_a_given_day_is_one_query(history_home):
    def due_on(day: str):
        return history_home.query(
            "select due_date, status from marts.dim_assessments "
            "where student_id = %s and valid_from <= %s::timestamptz "
            "and (valid_to is null or valid_to > %s::timestamptz)",
            (STUDENT, day, day),
        )

    assert due_on("2026-11-05 12:00+01") == [(dt.date(2026, 12, 4), "todo")]
    assert due_on("2026-11-10 12:00+01") == [(dt.date(2026, 12, 11), "in-progress")]
    assert due_on("2026-11-20 12:00+01") == [(dt.date(2026, 12, 11), "submitted")]
    assert due_on("2026-10-01 12:00+01") == []


def test_rerun_without_edits_adds_no_version(history_home):
    before = history_home.query("select count(*) from snapshots.assessments_snapshot")
    history_home.cli("materialize", "--select", ASSESSMENT_PATH)
    assert history_home.query("select count(*) from snapshots.assessments_snapshot") == before == [(3,)]
