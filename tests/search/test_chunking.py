"""The chunker, the abstract extractors and the embedder providers, on text made here."""

from __future__ import annotations

import numpy as np
import pytest

from resources.embedder import Embedder, embed_with, identity_for
from studentops_assets.core.errors import StudentOpsError
from studentops_assets.search.abstracts import citation_abstract, openalex_abstract, strip_jats, zotero_abstract
from studentops_assets.search.chunker import ChunkerSettings, chunk_document, chunk_spans

SENTENCE = "The cache hierarchy hides memory latency behind small fast buffers near the core number {i}."


def _doc(sections: int = 3, sentences: int = 25) -> str:
    parts = ["# Caches\n\nCS210 Computer Architecture\n"]
    for s in range(sections):
        parts.append(f"## Part {s}\n\n" + " ".join(SENTENCE.format(i=f"{s}-{i}") for i in range(sentences)) + "\n")
    return "\n".join(parts)


def test_chunks_are_about_the_target_size_with_overlap_and_exact_spans():
    text = _doc()
    settings = ChunkerSettings(1000, 200)
    chunks = chunk_document("material", "m1", text, settings, "Caches")
    assert len(chunks) >= 6
    for c in chunks:
        assert text[c.char_start:c.char_end] == c.content
        assert len(c.content) <= settings.target_chars
        # Sentence boundaries: every chunk starts a sentence (or a heading) and ends one.
        assert c.content[0] in "#T", c.content[:30]
        assert c.content.endswith(".")
    # Inside one section consecutive chunks overlap by at most the overlap, and by something.
    same = [(a, b) for a, b in zip(chunks, chunks[1:]) if a.heading == b.heading]
    assert same
    for a, b in same:
        overlap = a.char_end - b.char_start
        assert 0 < overlap <= settings.overlap_chars
    # Most chunks are filled close to the target.
    assert np.median([len(c.content) for c in chunks]) > 700


def test_headings_are_hard_boundaries_and_short_sections_join_the_next():
    text = _doc(sections=2, sentences=3)
    spans = chunk_spans(text, ChunkerSettings(1000, 200))
    # The title and its one line are joined to Part 0; Part 1 is a chunk of its own.
    assert [s.heading for s in spans] == ["Caches › Part 0", "Caches › Part 1"]
    assert text[spans[0].start:].startswith("# Caches")
    assert "## Part 1" not in text[spans[0].start:spans[0].end]


def test_ids_change_only_with_content_and_version():
    text = _doc()
    a = chunk_document("note", "s:n.md", text, ChunkerSettings(), "T")
    b = chunk_document("note", "s:n.md", text, ChunkerSettings(), "T")
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    changed = chunk_document("note", "s:n.md", text.replace("Part 2", "Part two"), ChunkerSettings(), "T")
    assert {c.chunk_id for c in a} != {c.chunk_id for c in changed}
    # Chunks before the change keep their ids: only the changed ones get embedded again.
    assert a[0].chunk_id == changed[0].chunk_id
    other = chunk_document("note", "s:n.md", text, ChunkerSettings(800, 150), "T")
    assert ChunkerSettings(800, 150).version != ChunkerSettings().version
    assert not {c.chunk_id for c in a} & {c.chunk_id for c in other}


def test_a_sentence_longer_than_the_target_is_cut_at_words():
    text = " ".join(f"word{i}" for i in range(600))  # ~4,800 characters, no full stop
    chunks = chunk_spans(text, ChunkerSettings(1000, 200))
    assert len(chunks) >= 5
    assert all(s.end - s.start <= 1000 for s in chunks)
    assert all(text[s.start] != " " and text[s.end - 1] != " " for s in chunks)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        ChunkerSettings(50, 10)
    with pytest.raises(ValueError):
        ChunkerSettings(1000, 600)


def test_openalex_abstract_is_rebuilt_from_the_inverted_index():
    index = {"Spacing": [0], "practice": [1, 5], "beats": [2], "massed": [3, 4], "study": [6]}
    assert openalex_abstract(index) == "Spacing practice beats massed massed practice study"
    assert openalex_abstract(None) is None and openalex_abstract({}) is None
    assert citation_abstract("openalex", {"abstract_inverted_index": index}).startswith("Spacing practice")


def test_crossref_abstract_loses_its_jats_tags():
    jats = ("<jats:title>Abstract</jats:title><jats:p>Retrieval practice &amp; spacing improve "
            "<jats:italic>long-term</jats:italic> retention.</jats:p><jats:p>Second paragraph.</jats:p>")
    assert strip_jats(jats) == "Retrieval practice & spacing improve long-term retention. Second paragraph."
    assert citation_abstract("crossref", {"message": {"abstract": jats}}).endswith("Second paragraph.")
    assert citation_abstract("crossref", {"message": {}}) is None
    assert zotero_abstract({"abstractNote": "  Plain   text. "}) == "Plain text."
    assert zotero_abstract({"abstractNote": ""}) is None


def test_hashing_provider_is_lexical_and_labelled():
    identity = Embedder(provider="hashing").identity()
    assert identity.provider == "hashing" and "lexical" in identity.label
    vectors = embed_with(identity, ["cache hierarchy latency", "cache hierarchy latency", "Bayesian priors"])
    assert vectors.shape == (3, identity.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] == pytest.approx(1.0, abs=1e-5)
    assert vectors[0] @ vectors[2] == pytest.approx(0.0, abs=1e-5)


def test_provider_choice_is_explicit(monkeypatch):
    monkeypatch.setenv("STUDENTOPS_EMBEDDER", "hashing")
    assert Embedder().identity().provider == "hashing"
    assert Embedder(provider="minilm").identity().provider == "minilm"
    monkeypatch.setenv("STUDENTOPS_EMBEDDER", "word2vec")
    with pytest.raises(StudentOpsError, match="unknown embedding provider"):
        Embedder().identity()
    with pytest.raises(StudentOpsError, match="does not provide"):
        identity_for("minilm", "some-other-model", 768)


def test_minilm_provider_embeds_meaning_offline():
    identity = Embedder(provider="minilm").identity()
    vectors = embed_with(identity, ["How do CPU caches reduce memory latency?",
                                    "The cache hierarchy hides the latency of main memory.",
                                    "Prior distributions in Bayesian inference."])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
