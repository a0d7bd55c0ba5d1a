"""The inbox rules and the BibTeX/RIS readers on their own (no database)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from resources.scholarly_apis import ScholarlyApisResource, scholarly_apis_from_env
from studentops_assets.core.quarantine import Issue
from studentops_assets.core.settings import Student
from studentops_assets.demo import papers
from studentops_assets.demo import references as demo_references
from studentops_assets.references.bibtex_reader import expand, parse_bibtex
from studentops_assets.references.doi import doi_from_field, doi_from_url
from studentops_assets.references.inbox import decode, discover
from studentops_assets.references.ris_reader import natural_key_digest, parse_ris

ADA = Student(id="id-ada", slug="ada", name="Ada")
ADA_L = Student(id="id-ada-l", slug="ada-lovelace", name="Ada Lovelace")
GRACE = Student(id="id-grace", slug="grace", name="Grace")


def _touch(root: Path, *paths: str) -> None:
    for relative in paths:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("@misc{x, title = {x}}\n", encoding="utf-8")


def test_inbox_files_are_assigned_by_folder_then_name(tmp_path):
    _touch(tmp_path, "grace/anything.bib", "grace/deeper/more.BIB", "demo-ada.bib", "export-ada-lovelace.bib",
           "ada.bib", "unclaimed.bib", "notes.txt", "grace/.hidden.bib", ".git/x.bib", "ada/list.ris")
    found = {f.relative: f.student_id for f in discover(tmp_path, {".bib"}, [ADA, ADA_L, GRACE])}
    assert found == {
        "grace/anything.bib": "id-grace",
        "grace/deeper/more.BIB": "id-grace",
        "demo-ada.bib": "id-ada",
        "export-ada-lovelace.bib": "id-ada-l",  # the longest matching slug
        "ada.bib": "id-ada",
        "unclaimed.bib": None,
    }
    # One student configured: every file is theirs.
    assert {f.relative: f.student_id for f in discover(tmp_path, {".bib"}, [GRACE])}["unclaimed.bib"] == "id-grace"
    assert discover(tmp_path / "missing", {".bib"}, [GRACE]) == []


def test_decode_tries_utf8_utf16_declared_and_8_bit_charsets():
    assert decode(b"\xef\xbb\xbf@misc{a}").text == "@misc{a}"
    assert decode(codecs.BOM_UTF16_LE + "TY  - JOUR".encode("utf-16-le")).text == "TY  - JOUR"
    # JabRef's header names the charset: ISO-8859-15 has the euro sign at 0xA4.
    declared = decode(b"% Encoding: ISO8859_15\n@misc{a, note = {5 \xa4}}", honour_declared_encoding=True)
    assert declared.encoding == "iso8859-15" and declared.text.endswith("{5 €}}")
    assert decode(b"@misc{a, title = {Caf\xe9 \x93quoted\x94}}").text.endswith("{Café “quoted”}}")
    assert decode(b"@misc{a, title = {\x81}}").encoding == "iso8859-1"  # 0x81 is undefined in cp1252
    for binary in (b"%PDF-1.4 ...", b"PK\x03\x04zip", b"text\x00with NUL"):
        issue = decode(binary)
        assert isinstance(issue, Issue) and issue.reason.startswith("binary file")


def test_bibtex_macros_concatenation_and_latex():
    assert expand('jan # "~1st"', {}) == "January~1st"
    assert expand('{A} # b # "C"', {"b": "B"}) == "ABC"
    parsed = parse_bibtex(r"""
@string{ieee = "IEEE"}
@string{tpami = ieee # " Trans. Pattern Anal."}
@article{k1,
  author = {Erd{\H{o}}s, Paul and {\v{C}}ech, Eduard and {Barnes {and} Noble}},
  title = {50% of {DNA} \& Tom & Jerry -- a ``study''},
  journal = tpami,
  keywords = {graphs; {\'e}tudes, latex},
  url = {https://doi.org/10.1000/ABC(1)},
}
""")
    assert parsed.issues == []
    (entry,) = parsed.entries
    assert entry["authors"] == ["Erdős, Paul", "Čech, Eduard", "Barnes and Noble"]
    assert entry["title"] == "50% of DNA & Tom & Jerry – a “study”"
    assert entry["journal"] == "IEEE Trans. Pattern Anal."
    assert entry["keywords"] == ["graphs", "études", "latex"]
    assert entry["doi"] == "10.1000/abc(1)"  # from the doi.org URL, parentheses kept
    assert entry["_record"]["fields"]["journal"] == "tpami"


def test_bibtex_problems_are_issues_and_the_rest_loads():
    parsed = parse_bibtex("""
@article{a, title = {One}, title = {Two}, doi = {not a doi}}
@inproceedings{b, title = {Child}, crossref = {missing}}
@article{c, title = {Fine}}
""")
    assert [e["citation_key"] for e in parsed.entries] == ["a", "b", "c"]
    assert parsed.entries[0]["title"] == "One" and parsed.entries[0]["doi"] is None
    assert [(i.location, i.reason) for i in parsed.issues] == [
        ("line 2", "entry 'a' repeats field(s) title: the first value is kept"),
        ("line 3", "entry 'b': crossref target 'missing' is not in this file"),
        ("line 2", "entry 'a': doi field holds no DOI"),
    ]
    assert parse_bibtex("% only a comment\n").issues == [Issue("file", "no BibTeX entries in this file")]


def test_latex_that_cannot_be_decoded_loads_as_written(monkeypatch):
    from bibtexparser.middlewares import LatexDecodingMiddleware
    from pylatexenc.latex2text import LatexNodes2Text

    from studentops_assets.references import bibtex_reader

    class FailsOnMath(LatexNodes2Text):
        def latex_to_text(self, latex, **kwargs):
            if "$" in latex:
                raise ValueError("unbalanced math")
            return super().latex_to_text(latex, **kwargs)

    class StrictLatexText(bibtex_reader.LatexText):
        def __init__(self):
            self._middleware = LatexDecodingMiddleware(decoder=FailsOnMath())

    monkeypatch.setattr(bibtex_reader, "LatexText", StrictLatexText)
    parsed = parse_bibtex(r'@article{m, title = {On $x^2$   and more}, author = {G{\"o}del, Kurt}}')
    (entry,) = parsed.entries
    assert (entry["title"], entry["authors"]) == ("On $x^2$ and more", ["Gödel, Kurt"])
    assert parsed.issues == [Issue("line 1", "entry 'm': LaTeX in title could not be decoded; "
                                             "the text is loaded as written")]


def test_every_demo_paper_exports_cleanly():
    keys = [p.key for p in papers.PAPERS]
    bib = parse_bibtex(demo_references.bibtex("Someone", keys, "2026-01-01"))
    assert bib.issues == []
    dois = {e["citation_key"]: e["doi"] for e in bib.entries}
    assert all(dois[p.key] == p.doi.lower() for p in papers.PAPERS)
    ris = parse_ris(demo_references.ris(keys, {}))
    assert ris.issues == []
    assert sorted(r["doi"] for r in ris.records) == sorted(p.doi.lower() for p in papers.PAPERS)
    assert all(r["abstract"].endswith("not yet summarised.") for r in ris.records)


def test_ris_natural_key():
    a = natural_key_digest("JOUR", "T", "10.1/x", 2020, {"title": "T"})
    assert a == natural_key_digest("JOUR", "T", "10.1/x", 2020, {"title": "T", "abstract": "changed"})
    assert a != natural_key_digest("BOOK", "T", "10.1/x", 2020, {})
    # Without title, DOI and year the content decides.
    assert natural_key_digest("JOUR", None, None, None, {"notes": ["a"]}) != \
        natural_key_digest("JOUR", None, None, None, {"notes": ["b"]})


@pytest.mark.parametrize("value, doi", [
    ("https://doi.org/10.1038/NATURE14539", "10.1038/nature14539"),
    ("doi: 10.1016/S0140-6736(97)11096-0", "10.1016/s0140-6736(97)11096-0"),
    ("10.1002/(SICI)1097-4571(199806)49:8<693::AID-ASI4>3.0.CO;2-O", "10.1002/(sici)1097-4571(199806)49:8<693::aid-asi4>3.0.co;2-o"),
    ("10.1007/978-3-662-46803-6{\\_}26", "10.1007/978-3-662-46803-6_26"),
    ("see 10.1145/3292500.3330701.", "10.1145/3292500.3330701"),
    ("ISBN 978-3-16", None),
    ("", None),
])
def test_doi_fields(value, doi):
    assert doi_from_field(value) == doi


def test_doi_urls():
    assert doi_from_url("https://dx.doi.org/10.1000%2FABC") == "10.1000/abc"
    assert doi_from_url("https://example.org/10.1000/abc") is None


def test_scholarly_apis_binds_secrets_only_when_set(monkeypatch):
    monkeypatch.delenv("STUDENTOPS_CONTACT_EMAIL", raising=False)
    monkeypatch.delenv("OPENALEX_API_KEY", raising=False)
    unset = scholarly_apis_from_env()
    assert (unset.contact_email, unset.openalex_api_key, unset.openalex_params()) == (None, None, {})
    assert unset.user_agent() == "StudentOps/0.1"
    configured = ScholarlyApisResource(contact_email="a@b.org", openalex_api_key="k")
    assert configured.openalex_params() == {"mailto": "a@b.org", "api_key": "k"}
    assert configured.user_agent() == "StudentOps/0.1 (mailto:a@b.org)"
