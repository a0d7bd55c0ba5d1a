"""raw/bibtex_entries and raw/ris_entries materialised for real from an inbox holding the demo's
exports, the parser libraries' own test files and hand-made broken files."""

from __future__ import annotations

import codecs
import hashlib
import re
from pathlib import Path

import pytest

from studentops_assets.demo import references as demo_references
from studentops_assets.references.assets import raw_bibtex_entries, raw_ris_entries

from .helpers import FIXTURES, copy_fixture, materialize, metadata, snapshot

ADA = "0b9a4a8e-5c63-4b43-9e55-1c7f0f3b0a01"
GRACE = "5d0e7a11-8f6e-4b7e-a0a4-6f3c2f4e9b02"
ADA_KEYS = ["lecun2015deep", "akiba2019optuna", "ryan2000selfdetermination", "harris2020numpy"]
ADA_NOTES = {"lecun2015deep": "CS101", "ryan2000selfdetermination": "PSY110"}

TRUNCATED_BIB = """\
@article{good1,
  author = {Hopper, Grace},
  title = {The Education of a Computer},
  year = {1952},
  doi = {https://doi.org/10.1145/609784.609818},
}

@article{dup,
  title = {First of two},
  year = 2001,
}

@article{dup,
  title = {Second of two},
  year = 2002,
}

@book{cut,
  title = {A block the export cut short,
  year = 1999
"""

# Record 2 begins with a continuation line right after TY: parsed as one stream, rispy files it
# under record 1's last tag (AB) and raises KeyError for the whole file.
BROKEN_RIS = """\
TY  - JOUR
TI  - Kept before the trouble
AB  - An abstract on one line.
ER  - 

TY  - JOUR
  wrapped text straight after the type
TI  - Kept after the trouble
PY  - 2020
ER  - 

TY  - BOOK
TI  - Never terminated
TY  - CHAP
TI  - Loads although its predecessor has no ER
DO  - doi:10.1000/XYZ.123
ER  - 

AU  - Stray, Tag
TY  - RPRT
TI  - Cut off at the end of the file
"""


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def inbox_home(new_home):
    home, warehouse = new_home(students=[
        {"id": ADA, "slug": "ada", "name": "Ada"},
        {"id": GRACE, "slug": "grace", "name": "Grace"},
    ])
    inbox = home.path / "inbox"
    # What `studentops demo` writes, through the demo's own generator.
    _write(inbox / "demo-ada.bib", demo_references.bibtex("Ada", ADA_KEYS, "2026-03-01"))
    _write(inbox / "demo-ada.ris", demo_references.ris(ADA_KEYS, ADA_NOTES))
    # Real-world files from the parsers' test suites, in Grace's folder.
    for fixture in sorted(FIXTURES.glob("*.bib")) + sorted(FIXTURES.glob("*.ris")):
        copy_fixture(fixture.name, inbox / "grace" / fixture.name)
    # Hand-made nasty cases.
    _write(inbox / "grace" / "empty.bib", b"")
    _write(inbox / "grace" / "truncated.bib", TRUNCATED_BIB)
    _write(inbox / "grace" / "scan.bib", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n\x00\x00")
    _write(inbox / "latin1-grace.bib",
           "@article{latin,\n  author = {Gödel, Kurt and Müller, Jörg},\n  title = {Über formal unentscheidbare "
           "Sätze},\n  year = {1931},\n}\n".encode("latin-1"))
    _write(inbox / "grace" / "endnote-utf16.ris",
           codecs.BOM_UTF16_LE + "TY  - JOUR\r\nAU  - Čapek, Karel\r\nTI  - R.U.R.\r\nPY  - 1920\r\nER  - \r\n"
           .encode("utf-16-le"))
    _write(inbox / "grace" / "broken.ris", BROKEN_RIS)
    _write(inbox / "orphan.bib", "@misc{nobody, title = {Whose is this?}}\n")
    _write(inbox / ".hidden.bib", b"\x00 macOS resource fork")
    home.inbox = inbox
    home.warehouse = warehouse
    home.files_before = _digests(inbox)
    home.first = materialize([raw_bibtex_entries, raw_ris_entries], warehouse)
    return home


def _rows(home, sql: str, params=None) -> list[tuple]:
    return home.query(sql, params)


def test_demo_bibtex_export_loads_with_macros_crossrefs_and_latex_resolved(inbox_home):
    rows = _rows(inbox_home, """
        select citation_key, entry_type, title, authors, year, journal, booktitle, publisher, pages, doi, crossref
        from raw.bibtex_entries where file = 'demo-ada.bib' order by line""")
    by_key = {r[0]: r[1:] for r in rows}
    # Every entry of the export, the @proceedings parents included, and nothing else.
    assert set(by_key) == {
        "lecun2015deep", "akiba2019optuna", "ryan2000selfdetermination", "harris2020numpy",
        *demo_references.BIB_EXTRAS, "kdd2019", "compstat2010",
    }
    assert by_key["lecun2015deep"] == (
        "article", "Deep learning", ["LeCun, Yann", "Bengio, Yoshua", "Hinton, Geoffrey"], 2015,
        "Nature",  # @string{nature = "Nature"} expanded
        None, None, "436-444", "10.1038/nature14539", None)
    # crossref: year, booktitle and publisher come from @proceedings{kdd2019}.
    assert by_key["akiba2019optuna"] == (
        "inproceedings", "Optuna: A Next-generation Hyperparameter Optimization Framework",
        ["Akiba, Takuya", "Sano, Shotaro", "Yanase, Toshihiko", "Ohta, Takeru", "Koyama, Masanori"], 2019, None,
        "Proceedings of the 25th ACM SIGKDD International Conference on Knowledge Discovery & Data Mining",
        "ACM", "2623-2631", "10.1145/3292500.3330701", "kdd2019")
    # LaTeX decoded: {\L}ukasz, van der Walt, St\'{e}fan; "and others" dropped.
    assert by_key["vaswani2017attention"][2][6] == "Kaiser, Łukasz"
    assert by_key["harris2020numpy"][2] == ["Harris, Charles R.", "Millman, K. Jarrod", "van der Walt, Stéfan J.",
                                            "Gommers, Ralf"]
    assert by_key["vaswani2017attention"][8] == "10.48550/arxiv.1706.03762"
    (record, encoding, sha), = _rows(inbox_home, """
        select _record, source_encoding, content_sha256 from raw.bibtex_entries
        where file = 'demo-ada.bib' and citation_key = 'akiba2019optuna'""")
    assert record["fields"]["crossref"] == "{kdd2019}" and "year" not in record["fields"]
    assert record["inherited"]["year"] == "2019" and record["inherited"]["publisher"] == "ACM"
    assert encoding == "utf-8"
    assert sha == hashlib.sha256((inbox_home.inbox / "demo-ada.bib").read_bytes()).hexdigest()
    assert _rows(inbox_home, "select distinct student_id, _source from raw.bibtex_entries where file = 'demo-ada.bib'") \
        == [(ADA, "bibtex")]


def test_demo_ris_export_loads_with_unicode_authors_and_wrapped_abstracts(inbox_home):
    rows = _rows(inbox_home, """
        select reference_type, title, authors, year, journal, doi, urls, abstract
        from raw.ris_entries where file = 'demo-ada.ris' order by record_index""")
    assert len(rows) == len(dict.fromkeys(ADA_KEYS + list(demo_references.RIS_EXTRAS)))
    vaswani = next(r for r in rows if r[1] == "Attention Is All You Need")
    assert vaswani[0] == "GEN" and vaswani[2][6] == "Kaiser, Łukasz" and vaswani[5] == "10.48550/arxiv.1706.03762"
    lecun = next(r for r in rows if r[1] == "Deep learning")
    assert lecun[3:7] == (2015, "Nature", "10.1038/nature14539", ["https://doi.org/10.1038/nature14539"])
    # The abstract's continuation line is part of the abstract.
    assert lecun[7] == ("A review of representation learning with many-layered networks. "
                        "Read for CS101; see the reading note [[lecun2015deep]].")


def test_parser_suite_files_load(inbox_home):
    got = {r[0]: r[1:] for r in _rows(inbox_home, """
        select citation_key, file, authors, title, journal, booktitle, year, doi, keywords
        from raw.bibtex_entries where student_id = %s""", (GRACE,))}
    assert got["Cesar2013"] == ("grace/bibtexparser-article_with_strings.bib", ["César, Jean"], "An amazing title",
                                "Nice Journal", None, 2013, None, [])
    assert got["mykey"] == ("grace/bibtexparser-features2.bib", ["Doe, John"], "Cool Stuff", None,
                            "My International Conference", 2014, None, [])
    # traps.bib separates its authors with a comma, not "and": BibTeX reads one name, "Last, First".
    assert got["Laide2013"][1:4] == (["Jean Laidé, Ben Loaeb"], "An amazing title", "Nice Journal")
    assert got["Bird1987"][1] == ["Bird, R.B.", "Armstrong, R.C.", "Hassager, O."]
    assert got["online-record"][1] == ["Family, Given", "von Researcher, Sam"]
    assert got["online-record"][5] == 2024
    assert got["gehring15"][1][1:3] == ["Händchen, Vitus", "Duhme, Jörg"]
    assert got["liu15b"][6] == "10.1007/978-3-662-46803-6_26"  # Mendeley's {\_} unescaped
    assert got["birula07"][1:3] == (["Białynicki-Birula, Iwo"], "Rényi Entropy and the Uncertainty Relations")
    assert {k for k in got if k.startswith("circ")} == {"circ1", "circ2", "circ3"}
    assert got["latin"] == ("latin1-grace.bib", ["Gödel, Kurt", "Müller, Jörg"], "Über formal unentscheidbare Sätze",
                            None, None, 1931, None, [])
    assert _rows(inbox_home, "select source_encoding from raw.bibtex_entries where citation_key = 'latin'") == [("cp1252",)]
    # truncated.bib: the good entry and the FIRST of the duplicate keys load, the cut block does not.
    assert _rows(inbox_home, """select citation_key, title, doi from raw.bibtex_entries
                                where file = 'grace/truncated.bib' order by line""") == [
        ("good1", "The Education of a Computer", "10.1145/609784.609818"),
        ("dup", "First of two", None),
    ]

    ris = {r[0]: r[1:] for r in _rows(inbox_home, """
        select title, file, reference_type, authors, year, journal, doi, keywords, abstract
        from raw.ris_entries where student_id = %s""", (GRACE,))}
    assert ris["Title of reference"][1:7] == ("JOUR", ["Marx, Karl", "Lindgren, Astrid"], 2014, "Lorem", None,
                                              ["Pippi", "Nordwind", "Piraten"])
    assert ris["EndNote: The Only Reference I Can Remember"][5:7] == (
        "10.1234/endnote.joke.2024",
        ["citation", "reference", "library", "wizardry", "coffee", "procrastination", "EndNote", "RIS"])
    cyrillic = next(v for k, v in ris.items() if k and k.startswith("Состояние"))
    assert cyrillic[1:4] == ("Journal Article", ["Dobrokhotova, Yu E.", "Yusupova, R. O.", "Ozerova, R. I.",
                                                 "Fayzullin, L. Z.", "Karnaukhov, V. N."], 2009)
    assert cyrillic[7].endswith("in endometrial hyperplasia in the late reproductive period")
    assert ris["R.U.R."][1:4] == ("JOUR", ["Čapek, Karel"], 1920)
    # The BOM file's only record: no title, its DOI.
    assert _rows(inbox_home, "select doi from raw.ris_entries where file = 'grace/rispy-example_bom.ris'") == [
        ("10.1186/s40981-020-0316-0",)]
    # broken.ris: the three complete records load, whatever rispy thinks of the file as a whole.
    assert _rows(inbox_home, """select title, year, doi from raw.ris_entries
                                where file = 'grace/broken.ris' order by line""") == [
        ("Kept before the trouble", None, None),
        ("Kept after the trouble", 2020, None),
        ("Loads although its predecessor has no ER", None, "10.1000/xyz.123"),
    ]
    # example_full and example_extraneous_data hold the same two works: one row each for Grace.
    assert _rows(inbox_home, "select count(*) from raw.ris_entries where title = 'Title of reference'") == [(1,)]


def test_bad_files_and_records_are_quarantined_with_reasons(inbox_home):
    got = _rows(inbox_home, """select source, student_id, file, location, reason from meta.quarantine
                               where source in ('bibtex', 'ris') order by source, file, location, reason""")
    summary = [(s, st, f, loc) for s, st, f, loc, _ in got]
    assert summary == [
        ("bibtex", GRACE, "grace/bibtexparser-crossref_cascading_cycle.bib", "line 11"),
        ("bibtex", GRACE, "grace/empty.bib", "file"),
        ("bibtex", GRACE, "grace/scan.bib", "file"),
        ("bibtex", GRACE, "grace/truncated.bib", "line 13"),
        ("bibtex", GRACE, "grace/truncated.bib", "line 18"),
        ("bibtex", "", "orphan.bib", "file"),
        ("ris", GRACE, "grace/broken.ris", "line 12"),
        ("ris", GRACE, "grace/broken.ris", "line 19"),
        ("ris", GRACE, "grace/broken.ris", "line 20"),
        ("ris", GRACE, "grace/rispy-example_multiline.ris", "line 10"),
        ("ris", GRACE, "grace/rispy-example_multiline.ris", "line 19"),
    ]
    reasons = {(f, loc): r for _, _, f, loc, r in got}
    assert "crossref cycle circ1 -> circ3 -> circ2 -> circ1" in reasons[("grace/bibtexparser-crossref_cascading_cycle.bib", "line 11")]
    assert reasons[("grace/empty.bib", "file")] == "no BibTeX entries in this file"
    assert reasons[("grace/scan.bib", "file")].startswith("binary file")
    assert reasons[("grace/truncated.bib", "line 13")] == (
        "duplicate citation key 'dup' (first defined on line 8): the first entry is kept, this one is not loaded")
    assert reasons[("grace/truncated.bib", "line 18")].startswith("BibTeX syntax error in lines 18-20")
    assert "inbox/<slug>/" in reasons[("orphan.bib", "file")]
    assert "no ER line before the next record starts on line 14" in reasons[("grace/broken.ris", "line 12")]
    assert reasons[("grace/broken.ris", "line 19")] == "RIS tag outside a record (no TY line before it); ignored"
    assert "truncated" in reasons[("grace/broken.ris", "line 20")]
    assert reasons[("grace/rispy-example_multiline.ris", "line 10")].startswith(
        "same type, title, DOI and year as the record on line 1")
    snippets = dict(((f, loc), s) for f, loc, s in _rows(
        inbox_home, "select file, location, snippet from meta.quarantine where source = 'bibtex'"))
    assert snippets[("grace/truncated.bib", "line 18")].startswith("@book{cut,")
    meta = metadata(inbox_home.first, "raw_bibtex_entries")
    assert meta["files_unassigned"] == 1 and meta["duplicates_skipped_this_run"] == 1
    assert meta["quarantine_issues_this_run"] == 6 and meta["quarantined_total"] == 6
    assert meta["dagster/row_count"] == _rows(inbox_home, "select count(*) from raw.bibtex_entries")[0][0]


def test_rispy_alone_fails_on_the_file_the_record_split_loads():
    import rispy

    with pytest.raises(KeyError):
        rispy.loads(BROKEN_RIS)


def test_rerun_changes_nothing_and_never_touches_the_inbox(inbox_home):
    before = snapshot(inbox_home)
    result = materialize([raw_bibtex_entries, raw_ris_entries], inbox_home.warehouse)
    assert snapshot(inbox_home) == before
    meta = metadata(result, "raw_bibtex_entries")
    assert meta["files_read"] == 0 and meta["rows_loaded_this_run"] == 0
    assert meta["files_unchanged"] == meta["files_in_inbox"] - meta["files_unassigned"]
    assert _digests(inbox_home.inbox) == inbox_home.files_before


def test_edits_removals_and_renames(inbox_home):
    inbox = inbox_home.inbox
    loaded_before = dict(_rows(inbox_home, "select _natural_key, _loaded_at from raw.bibtex_entries"))
    ris_before = _rows(inbox_home, "select _natural_key, title from raw.ris_entries where file = 'demo-ada.ris'")
    # Ada re-exports without Hinton's paper and with a corrected title.
    text = (inbox / "demo-ada.bib").read_text(encoding="utf-8")
    text = re.sub(r"@article\{lecun2015deep,.*?\n\}\n", "", text, flags=re.DOTALL)
    _write(inbox / "demo-ada.bib", text.replace("{Array programming with {NumPy}}", "{Array Programming with {NumPy}}"))
    (inbox / "demo-ada.ris").unlink()  # tidying the drop folder
    (inbox / "orphan.bib").rename(inbox / "orphan-ada.bib")
    repaired = TRUNCATED_BIB.replace("cut short,\n  year = 1999\n", "cut short},\n  year = 1999\n}\n")
    assert repaired != TRUNCATED_BIB
    _write(inbox / "grace" / "truncated.bib", repaired)
    # RIS: drop the first record of broken.ris (no other file has it) and the second record of
    # example_full.ris (example_extraneous_data.ris still has it).
    broken = (inbox / "grace" / "broken.ris").read_text(encoding="utf-8")
    _write(inbox / "grace" / "broken.ris", broken[broken.index("TY  - JOUR\n  wrapped"):])
    full = (inbox / "grace" / "rispy-example_full.ris").read_text(encoding="utf-8")
    _write(inbox / "grace" / "rispy-example_full.ris", full[:full.index("2. \n")])

    result = materialize([raw_bibtex_entries, raw_ris_entries], inbox_home.warehouse)

    keys = {k for (k,) in _rows(inbox_home, "select citation_key from raw.bibtex_entries where file = 'demo-ada.bib'")}
    assert "lecun2015deep" not in keys and "harris2020numpy" in keys
    assert _rows(inbox_home, "select title from raw.bibtex_entries where citation_key = 'harris2020numpy'") == [
        ("Array Programming with NumPy",)]
    # The removed RIS file's rows stay (the inbox is a drop folder).
    assert _rows(inbox_home, "select _natural_key, title from raw.ris_entries where file = 'demo-ada.ris'") == ris_before
    # The renamed orphan now belongs to Ada; its old quarantine row is gone.
    assert _rows(inbox_home, "select student_id, title from raw.bibtex_entries where file = 'orphan-ada.bib'") == [
        (ADA, "Whose is this?")]
    assert _rows(inbox_home, "select count(*) from meta.quarantine where file = 'orphan.bib'") == [(0,)]
    # The repaired block loads and its syntax error is cleared; the duplicate is still reported.
    assert _rows(inbox_home, "select location from meta.quarantine where file = 'grace/truncated.bib'") == [("line 13",)]
    assert ("cut", 1999) in _rows(inbox_home, "select citation_key, year from raw.bibtex_entries "
                                              "where file = 'grace/truncated.bib'")
    # Files that did not change were not reloaded.
    loaded_after = dict(_rows(inbox_home, "select _natural_key, _loaded_at from raw.bibtex_entries"))
    untouched = [k for k in loaded_before if k.startswith(f"{GRACE}:grace/bibtexparser-")]
    assert untouched and all(loaded_after[k] == loaded_before[k] for k in untouched)
    meta = metadata(result, "raw_bibtex_entries")
    assert (meta["files_read"], meta["rows_deleted_this_run"]) == (3, 1)
    assert _rows(inbox_home, "select count(*) from raw.ris_entries where title = 'Kept before the trouble'") == [(0,)]
    assert _rows(inbox_home, "select count(*) from raw.ris_entries where title = 'The title of the reference'") == [(1,)]
    # The quarantine rows of broken.ris moved with its lines (the file is 5 lines shorter).
    assert _rows(inbox_home, "select location from meta.quarantine where file = 'grace/broken.ris' order by 1") == [
        ("line 14",), ("line 15",), ("line 7",)]
    meta = metadata(result, "raw_ris_entries")
    assert (meta["files_read"], meta["rows_deleted_this_run"]) == (2, 1)


def test_a_huge_export_loads(inbox_home):
    import time

    lines = []
    for i in range(20_000):
        accent = "{\\\"u}" if i % 10 == 0 else "u"
        lines.append(f"@article{{huge{i},\n  author = {{M{accent}ller, Hans and Doe, Jane}},\n"
                     f"  title = {{Generated paper number {i}}},\n  journal = {{Journal of Volume}},\n"
                     f"  year = {{{1990 + i % 30}}},\n  doi = {{10.5555/huge.{i}}},\n}}\n")
    _write(inbox_home.inbox / "grace" / "huge.bib", "\n".join(lines))
    started = time.perf_counter()
    result = materialize([raw_bibtex_entries], inbox_home.warehouse)
    elapsed = time.perf_counter() - started
    assert metadata(result, "raw_bibtex_entries")["rows_loaded_this_run"] == 20_000
    assert _rows(inbox_home, "select count(*), count(distinct doi), min(year), max(year) from raw.bibtex_entries "
                             "where file = 'grace/huge.bib'") == [(20_000, 20_000, 1990, 2019)]
    assert _rows(inbox_home, "select authors, title from raw.bibtex_entries where citation_key = 'huge12340'") == [
        (["Müller, Hans", "Doe, Jane"], "Generated paper number 12340")]
    assert elapsed < 120, f"20,000 entries took {elapsed:.0f} s"
