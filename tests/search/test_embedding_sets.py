"""Embedding sets over time, in a small home of its own (hashing provider: lexical, no model, fast):
a rerun with no change embeds nothing, changed and deleted sources are re-embedded and removed, and a
new chunker version builds a new set beside the current one, which keeps answering until the new one
is complete."""

from __future__ import annotations

import psycopg2
import pytest
import yaml

from resources.embedder import Embedder, embed_with
from studentops_assets.search import checks, store
from studentops_assets.search.query import search
from tests.conftest import Home, free_port

SELECT_ALL = '+key:"ml/embedding_sets"'
HASHING = {"STUDENTOPS_EMBEDDER": "hashing"}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("search-home"), free_port())
    home.cli("demo", "--students", "15", "--days", "14", "--seed", "5", "--vault-students", "2")
    home.cli("materialize", "--select", SELECT_ALL, timeout=900, **HASHING)
    yield home
    home.stop()


def _conn(home: Home):
    return psycopg2.connect(home.db_url())


def _last_run(home: Home) -> dict:
    row = home.query("select set_id, embedded, deleted, unchanged, switched from ml.embedding_runs "
                     "order by run_at desc limit 1")[0]
    return dict(zip(("set_id", "embedded", "deleted", "unchanged", "switched"), row))


def _set_config(home: Home, **search_config) -> None:
    path = home.path / "studentops.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["search"] = search_config
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


def test_the_hashing_set_is_labelled_and_complete(home):
    (provider, lexical, status), = home.query("select provider, lexical_only, status from ml.embedding_sets")
    assert (provider, lexical, status) == ("hashing", True, "current")
    first = _last_run(home)
    assert first["embedded"] > 0 and first["switched"]
    with _conn(home) as conn:
        assert checks.coverage(conn).passed
        assert checks.dimension_and_count(conn).passed
        assert checks.recall_at_10(conn).passed
    out = home.cli("search", "exam preparation", "-k", "3").stdout
    assert "hashing (lexical, no model)" in out and "hashing provider: lexical vectors" in out


def test_a_rerun_with_no_change_embeds_nothing(home):
    before = home.query("select chunk_id, embedded_at from search.note_chunks order by 1")
    home.cli("materialize", "--select", SELECT_ALL, timeout=900, **HASHING)
    run = _last_run(home)
    assert (run["embedded"], run["deleted"], run["switched"]) == (0, 0, False)
    assert run["unchanged"] > 0
    assert home.query("select chunk_id, embedded_at from search.note_chunks order by 1") == before


def test_changed_and_deleted_sources_are_reembedded_and_removed(home):
    notes = home.query("select source_id, count(*) from search.note_chunks group by 1 order by 1")
    assert len(notes) >= 4
    (changed_id, _), (deleted_id, deleted_chunks) = notes[0], notes[1]
    vault = home.path / "vault"

    def note_file(source_id):
        student_id, relative = source_id.split(":", 1)
        matches = [p for p in vault.glob(f"*/{relative}")]
        assert len(matches) == 1, (source_id, matches)
        return matches[0]

    changed = note_file(changed_id)
    changed.write_text(changed.read_text(encoding="utf-8") +
                       "\n\n## Zebracorn revision\n\nThe zebracorn method: revise every topic twice, "
                       "the second time without looking at the slides.\n", encoding="utf-8")
    note_file(deleted_id).unlink()
    untouched = home.query("select chunk_id, embedded_at from search.note_chunks where source_id not in (%s, %s) "
                           "order by 1", (changed_id, deleted_id))

    home.cli("materialize", "--select", SELECT_ALL, timeout=900, **HASHING)
    run = _last_run(home)
    assert 1 <= run["embedded"] <= 3, run  # the changed note's new or changed chunks, nothing else
    assert run["deleted"] >= deleted_chunks
    assert home.query("select count(*) from search.note_chunks where source_id = %s", (deleted_id,)) == [(0,)]
    assert home.query("select count(*) from search.chunks where source_id = %s", (deleted_id,)) == [(0,)]
    assert home.query("select chunk_id, embedded_at from search.note_chunks where source_id not in (%s, %s) "
                      "order by 1", (changed_id, deleted_id)) == untouched
    with _conn(home) as conn:
        hits = search(conn, "zebracorn", k=3, kind="notes").hits
        assert hits and hits[0].source_id == changed_id and "zebracorn" in hits[0].content
        assert checks.coverage(conn).passed and checks.dimension_and_count(conn).passed


def test_a_new_chunker_version_builds_a_new_set_while_the_old_one_answers(home):
    with _conn(home) as conn:
        old = store.current_set(conn)
    old_answer = home.cli("search", "exam preparation", "-k", "3").stdout
    assert old.chunker_version in old_answer

    _set_config(home, chunk_chars=600, overlap_chars=100)
    home.cli("materialize", "--select", 'key:"search/chunks"', timeout=900, **HASHING)
    (version,), = home.query("select distinct chunker_version from search.chunks")
    assert version == "sentences-r1-600-100" != old.chunker_version
    with _conn(home) as conn:
        # Half of the new set embedded, as if its run had died: it is not current, the old one answers.
        new = store.ensure_set(conn, Embedder(provider="hashing").identity(), version)
        pending = store.pending_chunks(conn, new)
        half = pending[: len(pending) // 2]
        store.insert_vectors(conn, new, half, embed_with(new.identity, [r[10] for r in half]))
        assert store.current_set(conn).set_id == old.set_id
        result = search(conn, "exam preparation", k=5)
        assert result.embedding_set.set_id == old.set_id and len(result.hits) == 5
        assert checks.dimension_and_count(conn).passed  # the old set is consistent in itself
    assert home.query("select status from ml.embedding_sets where set_id = %s", (new.set_id,)) == [("building",)]
    assert home.query("select distinct set_id from ml.document_chunks") == [(old.set_id,)]

    home.cli("materialize", "--select", 'key:"ml/embedding_sets"', timeout=900, **HASHING)
    run = _last_run(home)
    assert run["set_id"] == new.set_id and run["switched"]
    assert run["embedded"] == len(pending) - len(half)  # the rest only: the first half was kept
    statuses = dict(home.query("select set_id, status from ml.embedding_sets"))
    assert statuses == {old.set_id: "previous", new.set_id: "current"}
    assert home.query("select distinct set_id from ml.document_chunks") == [(new.set_id,)]
    assert new.chunker_version in home.cli("search", "exam preparation", "-k", "3").stdout
    with _conn(home) as conn:
        # The previous set is still there and still answers, with its own chunks.
        previous = store.EmbeddingSet(old.set_id, old.provider, old.model, old.dimension, old.chunker_version,
                                      "previous")
        hits = search(conn, "exam preparation", k=4, embedding_set=previous).hits
        assert len(hits) == 4
        assert checks.coverage(conn).passed and checks.dimension_and_count(conn).passed

    # A third identity: the oldest set's tables go, the registry keeps its row.
    _set_config(home, chunk_chars=800, overlap_chars=150)
    home.cli("materialize", "--select", SELECT_ALL, timeout=900, **HASHING)
    statuses = dict(home.query("select set_id, status from ml.embedding_sets"))
    assert statuses[old.set_id] == "dropped" and statuses[new.set_id] == "previous"
    assert home.query("select to_regclass(%s)", (f"ml.embeddings_{old.set_id}",)) == [(None,)]
    assert home.query("select to_regclass(%s)::text", (f"ml.embeddings_{new.set_id}",)) == [(f"ml.embeddings_{new.set_id}",)]


def test_openalex_and_crossref_abstracts_from_the_citation_cache_are_chunked(home):
    """Rows shaped as the citation-cache loader writes them (a copy of a real row, with an OpenAlex and
    a Crossref answer in `_record`): their abstracts become reference chunks, rebuilt and stripped."""
    import json

    openalex = {"id": "https://openalex.org/W1", "abstract_inverted_index": {
        "Quokkafish": [0], "retrieval": [1, 4], "beats": [2], "rereading": [3], "practice.": [5]}}
    crossref = {"message": {"DOI": "10.5555/crossref-abs", "abstract":
                "<jats:title>Abstract</jats:title><jats:p>Wombatfern spacing &amp; <jats:italic>interleaving"
                "</jats:italic> help.</jats:p>"}}
    (count,), = home.query("select count(*) from raw.citation_cache")
    assert count > 0, "the demo cites DOIs: its citation cache has rows"
    for doi, provider, record in (("10.5555/openalex-abs", "openalex", openalex),
                                  ("10.5555/crossref-abs", "crossref", crossref)):
        home.query(
            "create temp table copied as select * from raw.citation_cache limit 1; "
            "update copied set doi = %(doi)s, _natural_key = %(doi)s, resolved = true, provider = %(p)s, "
            "title = 'A test paper', _record = %(record)s, _dlt_id = md5(%(doi)s); "
            "insert into raw.citation_cache select * from copied",
            {"doi": doi, "p": provider, "record": json.dumps(record)})
    home.cli("materialize", "--select", "group:search", timeout=900, **HASHING)
    chunks = dict(home.query("select source_id, content from ml.document_chunks where source_id like 'doi:10.5555/%%'"))
    assert chunks == {
        "doi:10.5555/openalex-abs": "Quokkafish retrieval beats rereading retrieval practice.",
        "doi:10.5555/crossref-abs": "Wombatfern spacing & interleaving help.",
    }
    with _conn(home) as conn:
        assert checks.coverage(conn).passed
        hit = search(conn, "wombatfern", k=1, kind="references").hits[0]
        assert hit.source_id == "doi:10.5555/crossref-abs"
