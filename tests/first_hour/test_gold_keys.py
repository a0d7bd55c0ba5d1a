"""One key, one type across the gold layer: an analyst's plain join of any two marts (or ml tables) on
a shared key column never fails with `operator does not exist: uuid = character varying`."""

from __future__ import annotations

import re

# Join keys by name: ids, surrogate keys, natural keys, course codes, DOIs and note paths.
KEY_COLUMN = re.compile(r"(_id|_sk|_key|_code|_path)$|^doi$")


def _key_columns(home) -> dict[str, dict[str, str]]:
    rows = home.query(
        "select column_name, table_schema || '.' || table_name, data_type from information_schema.columns "
        "where table_schema in ('marts', 'ml') order by 1, 2"
    )
    out: dict[str, dict[str, str]] = {}
    for column, table, data_type in rows:
        if KEY_COLUMN.search(column):
            out.setdefault(column, {})[table] = data_type
    return out


def test_every_shared_key_column_has_one_type(shared_demo):
    keys = {column: tables for column, tables in _key_columns(shared_demo).items() if len(tables) > 1}
    assert {"student_id", "course_code", "session_sk", "doi", "note_path"} <= set(keys)
    mixed = {column: tables for column, tables in keys.items() if len(set(tables.values())) > 1}
    assert mixed == {}


def test_student_id_is_a_uuid_in_every_gold_table(shared_demo):
    student_ids = _key_columns(shared_demo)["student_id"]
    assert len(student_ids) >= 10
    assert set(student_ids.values()) == {"uuid"}, student_ids


def test_study_source_facts_join_the_platform_students(shared_demo):
    """The configured students with study sources are platform students: their notes, readings and
    sessions join dim_students on student_id as they are, without a cast."""
    joined = shared_demo.query(
        """
        select count(distinct s.student_id)
        from marts.dim_students as s
        join marts.fact_notes_activity as n on n.student_id = s.student_id
        join marts.fact_study_sessions as f on f.student_id = s.student_id and f.source in ('ical', 'gcal')
        """
    )
    assert joined == [(3,)]
    assert shared_demo.query("select count(*) from marts.dim_students where has_study_sources") == [(3,)]
