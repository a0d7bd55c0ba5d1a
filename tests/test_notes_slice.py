"""The first vertical slice, materialised for real through the Dagster instance:
vault files -> raw.notes (dlt) -> staging.stg_notes -> marts.dim_courses / marts.fact_notes_activity (dbt).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import textwrap
import time
from pathlib import Path

import psycopg2
import pytest
import yaml

from .conftest import Home, free_port, sha256, table_fingerprints

ADA = "0b9a4a8e-5c63-4b43-9e55-1c7f0f3b0a01"
GRACE = "5d0e7a11-8f6e-4b7e-a0a4-6f3c2f4e9b02"
# Every run in this module takes the slice only: the rest of the graph (ML, embeddings, digests, the
# other marts) checks nothing here and took minutes per run; the whole graph's first run and rerun
# are covered by test_demo_warehouse and test_source_health.
SLICE = "key:raw/notes or key:staging/stg_notes or key:marts/dim_courses or key:marts/fact_notes_activity"
# The first run on a fresh warehouse also builds what dim_courses reads: the platform's courses and
# majors (no platform is configured here: empty replicas, observed, not materialised).
FIRST_RUN = "+key:marts/fact_notes_activity"


def write(path: Path, text: str, mtime: dt.datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))


@pytest.fixture(scope="module")
def slice_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("slice-home"), free_port())
    (home.path / "studentops.yaml").write_text(
        yaml.safe_dump(
            {
                "timezone": "Europe/Amsterdam",
                "students": [
                    {"id": ADA, "slug": "ada", "name": "Ada", "vault": "vault/ada"},
                    {"id": GRACE, "slug": "grace", "name": "Grace", "timezone": "America/New_York"},
                ],
            }
        )
    )
    # 23:30 UTC on 1 March is already 2 March in Amsterdam: modified_local_date must say so.
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.timezone.utc)
    noon = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.timezone.utc)
    vault = home.path / "vault"
    write(vault / "ada/assessments/cs101-essay.md", """
        ---
        type: assessment
        course: cs-101
        due: 2026-04-10
        weight: 40
        status: todo
        ---
        # Essay
        Compare [[lecture-01]] with the paper doi:10.1038/nature14539 in five hundred words.
        """, late)
    write(vault / "ada/courses/CS101/lecture-01.md", """
        ---
        type: lecture
        course: CS101
        tags: [intro]
        ---
        Sorting, searching and graphs.
        """, noon)
    write(vault / "ada/readings/attention.md", """
        ---
        type: reading
        course: Math 201
        doi: https://doi.org/10.48550/arXiv.1706.03762
        ---
        Attention is all you need, says the title.
        """, noon)
    write(vault / "ada/.obsidian/workspace.md", "not a note", noon)
    write(vault / "grace/daily/2026-03-04.md", "Wrote no frontmatter today.\n", noon)
    home.cli("materialize", "--select", FIRST_RUN)
    yield home
    home.stop()


def rows(home: Home, sql: str) -> list[tuple]:
    return home.query(sql)


def test_raw_notes_hold_every_note_with_its_fields(slice_home):
    got = rows(slice_home, """
        select student_id, path, note_type, course_code, due_date, weight_pct, status, dois, word_count, _source
        from raw.notes order by student_id, path""")
    assert got == [
        (ADA, "assessments/cs101-essay.md", "assessment", "cs-101", dt.date(2026, 4, 10), 40.0, "todo",
         ["10.1038/nature14539"], 11, "vault"),
        (ADA, "courses/CS101/lecture-01.md", "lecture", "CS101", None, None, None, [], 4, "vault"),
        (ADA, "readings/attention.md", "reading", "Math 201", None, None, None, ["10.48550/arxiv.1706.03762"], 8, "vault"),
        (GRACE, "daily/2026-03-04.md", "daily", None, None, None, None, [], 4, "vault"),
    ]
    # The version marker is the file's own hash.
    (digest,), = rows(slice_home, "select content_sha256 from raw.notes where path = 'courses/CS101/lecture-01.md'")
    assert digest == sha256(slice_home.path / "vault/ada/courses/CS101/lecture-01.md")


def test_marts_normalise_course_codes_and_use_local_dates(slice_home):
    assert rows(slice_home, "select course_code, note_count, student_count from marts.dim_courses order by 1") == [
        ("CS101", 2, 1),
        ("MATH201", 1, 1),
    ]
    facts = rows(slice_home, """
        select f.note_path, f.note_type, f.course_code, f.word_count, f.modified_local_date, d.course_code
        from marts.fact_notes_activity f left join marts.dim_courses d using (course_sk)
        order by f.note_path""")
    assert facts == [
        ("assessments/cs101-essay.md", "assessment", "CS101", 11, dt.date(2026, 3, 2), "CS101"),
        ("courses/CS101/lecture-01.md", "lecture", "CS101", 4, dt.date(2026, 3, 4), "CS101"),
        ("daily/2026-03-04.md", "daily", None, 4, dt.date(2026, 3, 4), None),
        ("readings/attention.md", "reading", "MATH201", 8, dt.date(2026, 3, 4), "MATH201"),
    ]


def test_the_run_is_stored_in_the_dagster_postgres_database(slice_home):
    dagster_url = slice_home.db_url("--database", "dagster")
    runs = slice_home.query(
        "select status from runs where run_body::jsonb -> 'tags' ->> 'studentops/command' = 'materialize'",
        url=dagster_url,
    )
    assert runs and all(status == "SUCCESS" for (status,) in runs)
    materialised = {
        key for (key,) in slice_home.query(
            "select distinct asset_key from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'",
            url=dagster_url,
        )
    }
    assert {'["raw", "notes"]', '["staging", "stg_notes"]', '["marts", "dim_courses"]',
            '["marts", "fact_notes_activity"]'} <= materialised


def test_rerun_changes_nothing(slice_home):
    before = table_fingerprints(slice_home)
    # The whole graph's rerun is covered by test_demo_warehouse; here, the slice.
    result = slice_home.cli("materialize", "--select", SLICE)
    assert re.search(r"studentops: (\d+)/\1 assets materialised", result.stdout), result.stdout
    assert table_fingerprints(slice_home) == before


def test_edits_deletions_and_bad_files_flow_through(slice_home):
    vault = slice_home.path / "vault"
    (loaded_before,), = rows(slice_home, "select _loaded_at from raw.notes where path = 'courses/CS101/lecture-01.md'")
    later = dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.timezone.utc)
    write(vault / "ada/assessments/cs101-essay.md", """
        ---
        type: assessment
        course: CS101
        due: 2026-04-17
        weight: 40
        status: in-progress
        ---
        Extended by a week.
        """, later)
    (vault / "ada/readings/attention.md").unlink()
    (vault / "ada/scan.md").write_bytes(b"%PDF-1.7\n\x00\x00binary")
    write(vault / "grace/broken.md", "---\ncourse: [CS101\n---\nStill counted.\n", later)

    slice_home.cli("materialize", "--select", SLICE)

    assert rows(slice_home, "select path, due_date, status, word_count from raw.notes order by student_id, path") == [
        ("assessments/cs101-essay.md", dt.date(2026, 4, 17), "in-progress", 4),
        ("courses/CS101/lecture-01.md", None, None, 4),
        ("broken.md", None, None, 2),
        ("daily/2026-03-04.md", None, None, 4),
    ]
    # The untouched note was not reloaded.
    (loaded_after,), = rows(slice_home, "select _loaded_at from raw.notes where path = 'courses/CS101/lecture-01.md'")
    assert loaded_after == loaded_before
    quarantine = rows(slice_home, "select student_id, file, location, reason from meta.quarantine order by file")
    assert [(q[0], q[1], q[2]) for q in quarantine] == [
        (GRACE, "broken.md", "frontmatter line 3"),
        (ADA, "scan.md", "file"),
    ]
    assert "not valid YAML" in quarantine[0][3] and "started on line 2" in quarantine[0][3]
    assert "binary" in quarantine[1][3]
    assert rows(slice_home, "select course_code from marts.dim_courses order by 1") == [("CS101",)]

    # Fixing the broken note clears its quarantine row and loads its metadata.
    write(vault / "grace/broken.md", "---\ncourse: CS101\n---\nStill counted.\n", later)
    slice_home.cli("materialize", "--select", "key:raw/notes")
    assert rows(slice_home, "select file from meta.quarantine") == [("scan.md",)]
    assert rows(slice_home, "select course_code from raw.notes where path = 'broken.md'") == [("CS101",)]


def test_bi_role_reads_marts_only(slice_home):
    bi_url = slice_home.db_url("--bi")
    assert "studentops_bi" in bi_url
    assert slice_home.query("select count(*) from marts.fact_notes_activity", url=bi_url)[0][0] > 0
    for forbidden in ("select * from raw.notes", "select * from meta.quarantine", "select * from staging.stg_notes"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            slice_home.query(forbidden, url=bi_url)
    with pytest.raises((psycopg2.errors.ReadOnlySqlTransaction, psycopg2.errors.InsufficientPrivilege)):
        slice_home.query("delete from marts.dim_courses", url=bi_url)
    with pytest.raises((psycopg2.errors.ReadOnlySqlTransaction, psycopg2.errors.InsufficientPrivilege)):
        slice_home.query("create table marts.mine (x int)", url=bi_url)
