"""Semantic search on the shared, materialised demo (minilm embeddings): read-only tests."""

from __future__ import annotations

import psycopg2
import pytest
import yaml

from studentops_assets.search import checks
from studentops_assets.search.query import count_matching, search, vector_candidates
from studentops_assets.search.store import current_set
from resources.embedder import embed_with


@pytest.fixture(scope="module")
def conn(shared_demo):
    connection = psycopg2.connect(shared_demo.db_url())
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def current(conn):
    s = current_set(conn)
    assert s is not None, "the demo's materialisation built no embedding set"
    return s


def test_the_demo_set_is_minilm_with_an_hnsw_index(shared_demo, current):
    assert (current.provider, current.model, current.dimension) == (
        "minilm", "sentence-transformers/all-MiniLM-L6-v2", 384)
    assert current.chunker_version == "sentences-r1-1000-200"
    defs = dict(shared_demo.query(
        "select indexname, indexdef from pg_indexes where schemaname in ('ml', 'search') and indexdef like '%%hnsw%%'"))
    assert {f"embeddings_{current.set_id}_hnsw", f"note_embeddings_{current.set_id}_hnsw"} <= set(defs)
    for definition in defs.values():
        assert "vector_cosine_ops" in definition and "m='16'" in definition and "ef_construction='64'" in definition
    kinds = dict(shared_demo.query("select source_kind, count(*) from search.chunks group by 1"))
    assert set(kinds) == {"material", "note", "reference"}
    # The demo stays quick to embed: about a thousand chunks.
    assert 500 <= sum(kinds.values()) <= 2000, kinds
    (runs,) = shared_demo.query("select count(*) from ml.embedding_runs where set_id = %s and chunks_per_second > 0",
                                (current.set_id,))[0]
    assert runs >= 1


def test_checks_pass_with_their_figures(conn):
    coverage = checks.coverage(conn)
    figures = {k: getattr(v, "value", v) for k, v in coverage.metadata.items()}
    assert coverage.passed and figures["missing"] == 0 and figures["coverage"] == 1.0
    assert {"material", "note", "reference"} <= set(figures["by_kind"])
    recall = checks.recall_at_10(conn)
    figures = {k: getattr(v, "value", v) for k, v in recall.metadata.items()}
    assert recall.passed and figures["recall_at_10"] >= 0.95 and figures["queries"] >= 50
    counted = checks.dimension_and_count(conn)
    figures = {k: getattr(v, "value", v) for k, v in counted.metadata.items()}
    assert counted.passed and figures["vectors"] == figures["chunks_expected"] > 0
    assert figures["wrong_dimension"] == 0 and figures["dimension"] == 384


def _topical_materials(conn, limit=10):
    with conn.cursor() as cur:
        cur.execute(
            "select m.material_id::text, m.title, c.course_name from staging.stg_platform_materials m "
            "join staging.stg_platform_courses c using (course_id) "
            "where m.title ~ '^(Lecture notes|Summary|Week [0-9]+ slides|Homework [0-9]+): ' "
            "order by md5(m.material_id::text) limit %s", (limit,))
        return [(mid, title.split(": ", 1)[1], course) for mid, title, course in cur.fetchall()]


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
def test_a_query_about_a_materials_topic_finds_it_in_the_top_5(conn, mode):
    materials = _topical_materials(conn)
    assert len(materials) == 10
    misses = []
    for material_id, topic, course in materials:
        result = search(conn, f"{topic} in {course}", k=5, mode=mode, kind="materials")
        if material_id not in [h.source_id for h in result.hits]:
            misses.append((topic, course, [h.source_title for h in result.hits]))
    assert not misses, misses


def _rare_words(conn, s, limit=25):
    """Words that occur in exactly one material/reference chunk, also after English stemming."""
    with conn.cursor() as cur:
        cur.execute(
            "select word from ts_stat('select to_tsvector(''simple'', content) from ml.document_chunks') "
            "where ndoc = 1 and length(word) >= 5 and word ~ '^[a-z]+$' order by md5(word) limit 300")
        words = [w for (w,) in cur.fetchall()]
        out = []
        for word in words:
            cur.execute("select chunk_id from ml.document_chunks where content_tsv @@ plainto_tsquery('english', %s)",
                        (word,))
            rows = cur.fetchall()
            if len(rows) == 1:
                out.append((word, rows[0][0]))
            if len(out) == limit:
                break
    return out


def test_hybrid_finds_rare_terms_that_pure_vector_search_misses(conn, current):
    rare = _rare_words(conn, current)
    assert len(rare) >= 5
    vector_missed = []
    for word, chunk_id in rare:
        hybrid = search(conn, word, k=10, mode="hybrid")
        assert chunk_id in [h.chunk_id for h in hybrid.hits], f"hybrid search missed the only chunk with {word!r}"
        vector = search(conn, word, k=10, mode="vector")
        assert len(vector.hits) == 10 and all(h.text_rank is None for h in vector.hits)
        if chunk_id not in [h.chunk_id for h in vector.hits]:
            vector_missed.append(word)
    # The embedding alone does not find every rare word: that is what the full-text half is for.
    assert vector_missed, "pure vector search found every rare word; the test shows nothing"


def test_an_exact_course_code_finds_that_course(conn):
    result = search(conn, "STAT410", k=5, mode="hybrid")
    assert any(h.course_code == "STAT410" and h.text_rank == 1 for h in result.hits)


def test_filters_return_k_when_k_chunks_match(conn, current):
    query = embed_with(current.identity, ["how to prepare for the exam"])[0]
    k = 20
    # Forced onto the HNSW index (the planner would scan a table this small exactly): without an
    # iterative scan the index stops after ef_search candidates, and a selective filter keeps few.
    plain = vector_candidates(conn, current, query, k, kind="reference", iterative=False, prefer_index=True)
    matching = count_matching(conn, current, kind="reference")
    assert matching >= k
    assert len(plain) < k, "the filter did not starve the plain index scan; the test shows nothing"
    iterative = vector_candidates(conn, current, query, k, kind="reference", iterative=True, prefer_index=True)
    assert len(iterative) == k
    with conn.cursor() as cur:
        cur.execute("select code from (select course_code as code, count(*) n from ml.document_chunks "
                    "where course_code is not null group by 1) s order by n, code limit 1")
        (small_course,) = cur.fetchone()
    for filters in ({"kind": "references"}, {"kind": "notes"}, {"course": small_course},
                    {"course": small_course.lower(), "kind": "materials"}):
        for mode in ("vector", "hybrid"):
            result = search(conn, "how to prepare for the exam", k=k, mode=mode, prefer_index=True, **filters)
            expected = min(k, count_matching(conn, current, course=(filters.get("course") or "").upper() or None,
                                             kind={"references": "reference", "notes": "note",
                                                   "materials": "material"}.get(filters.get("kind"))))
            assert len(result.hits) == expected, (filters, mode)
            for hit in result.hits:
                if "course" in filters:
                    assert hit.course_code == small_course
                if filters.get("kind") == "notes":
                    assert hit.source_kind == "note"


def test_student_filter_returns_only_that_students_chunks(shared_demo, conn, current):
    config = yaml.safe_load((shared_demo.path / "studentops.yaml").read_text(encoding="utf-8"))
    student = config["students"][0]
    result = search(conn, "my plan for the essay", k=8, student_id=str(student["id"]), mode="hybrid")
    assert len(result.hits) == min(8, count_matching(conn, current, student_id=str(student["id"])))
    assert result.hits and all(h.student_id == str(student["id"]) for h in result.hits)
    out = shared_demo.cli("search", "my plan for the essay", "-k", "3", "--student", student["slug"],
                          "--kind", "notes").stdout
    assert "note" in out and "minilm" in out and "3 of k=3" in out
    bad = shared_demo.cli("search", "x", "--student", "nobody-here", check=False)
    assert bad.returncode == 1 and "unknown student 'nobody-here'" in bad.stderr


def test_cli_prints_a_readable_table(shared_demo, conn):
    topic_id, topic, course = _topical_materials(conn, 1)[0]
    result = shared_demo.cli("search", f"{topic} in {course}", "-k", "4", "--kind", "materials", "--mode", "vector")
    out = result.stdout
    assert "4 of k=4" in out and "vector search" in out and "cosine similarity" in out
    assert topic.split()[0].lower() in out.lower()
    assert "material" in out and "chars" in out
    assert shared_demo.cli("search", "   ", check=False).returncode == 1


def test_bi_role_reads_material_and_reference_chunks_but_no_notes(shared_demo, current):
    bi = shared_demo.db_url("--bi")
    kinds = dict(shared_demo.query("select source_kind, count(*) from ml.document_chunks group by 1", url=bi))
    assert set(kinds) == {"material", "reference"}
    (chunk_id,) = shared_demo.query("select chunk_id from ml.document_chunks where source_kind = 'material' "
                                    "order by chunk_id limit 1", url=bi)[0]
    similar = shared_demo.query("select chunk_id, similarity from ml.more_like_this(%s, 5)", (chunk_id,), url=bi)
    assert len(similar) == 5 and chunk_id not in [c for c, _ in similar]
    assert [s for _, s in similar] == sorted((s for _, s in similar), reverse=True)
    refs = shared_demo.query("select source_kind from ml.more_like_this(%s, 3, 'reference')", (chunk_id,), url=bi)
    assert [k for (k,) in refs] == ["reference"] * 3
    for relation in ("search.chunks", "search.note_chunks", f"search.note_embeddings_{current.set_id}"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            shared_demo.query(f"select count(*) from {relation}", url=bi)
    # No table or view the BI role can read holds a note's text.
    (note_text,) = shared_demo.query("select content from search.chunks where source_kind = 'note' "
                                     "order by length(content) desc limit 1")[0]
    readable = shared_demo.query(
        "select table_schema, table_name from information_schema.tables where table_schema in ('ml', 'marts')", url=bi)
    for schema, table in readable:
        columns = [c for (c,) in shared_demo.query(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "and data_type = 'text'", (schema, table), url=bi)]
        for column in columns:
            hit = shared_demo.query(f'select count(*) from "{schema}"."{table}" where "{column}" = %s',
                                    (note_text,), url=bi)
            assert hit == [(0,)], f"{schema}.{table}.{column} holds note text"
