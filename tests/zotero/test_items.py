"""extract_item on real API items (pyzotero's recorded responses) and on hand-made nasty ones."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from studentops_assets.zotero.items import extract_item, note_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zotero"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_real_book_item_from_the_api():
    item = fixture("pyzotero_item.json")
    got = extract_item(item)
    assert got.issues == [] and not got.trashed
    assert (got.key, got.version) == ("X42A7DEE", 1)
    row = got.row
    assert row["item_type"] == "book"
    assert row["title"].startswith("Electron Microscopy and Analysis 1993: Proceedings")
    assert row["doi"] is None
    assert (row["date_raw"], row["year"]) == ("1993", 1993)
    assert row["tags"] == ["Analysis", "Congresses", "Electron microscopy", "Materials", "Microscopy"]
    assert row["collections"] == ["BX9965IJ", "9KH9TNSJ"]
    assert row["creators"][1] == {"creatorType": "contributor", "firstName": "A. J", "lastName": "Craven"}
    assert len(row["creators"]) == 7
    assert row["parent_item"] is None and row["note"] is None and row["url"] is None
    assert row["date_added"] == row["date_modified"] == dt.datetime(2011, 1, 13, 3, 37, 29, tzinfo=dt.timezone.utc)
    # _record is the item's `data`, untouched.
    assert row["_record"] == item["data"]


def test_real_child_attachment_from_the_api():
    got = extract_item(fixture("pyzotero_attachments_doc.json"))
    assert got.issues == []
    row = got.row
    assert (row["item_type"], row["title"], row["parent_item"]) == ("attachment", "1641 Depositions", "47RUN6RI")
    assert row["url"] == "http://1641.tcd.ie/project-conservation.php"
    assert row["tags"] == [] and row["collections"] == [] and row["year"] is None


def item(**data) -> dict:
    data.setdefault("key", "ABCD2345")
    data.setdefault("version", 7)
    return {"key": data["key"], "version": data["version"], "meta": {}, "data": data}


def test_doi_field_is_normalised_and_extra_doi_is_found():
    assert extract_item(item(itemType="journalArticle", DOI="https://doi.org/10.1038/NATURE14539")).row["doi"] == "10.1038/nature14539"
    book = extract_item(item(itemType="book", extra="Original date: 1990\nDOI: 10.5555/Book.42.\ntex.key: x"))
    assert book.row["doi"] == "10.5555/book.42" and book.issues == []


def test_a_doi_that_is_not_one_is_reported_and_the_item_still_loads():
    got = extract_item(item(itemType="journalArticle", title="T", DOI="n/a", extra="DOI: unknown"))
    assert got.row is not None and got.row["doi"] is None and got.row["title"] == "T"
    assert [(i.location, i.reason, i.snippet) for i in got.issues] == [
        ("DOI", "not a DOI", "n/a"),
        ("extra", "DOI line is not a DOI", "DOI: unknown"),
    ]


def test_note_html_becomes_text_and_its_first_line_the_title():
    html = "<div data-schema-version=\"9\"><h1>Reading notes &amp; ideas</h1><p>First&nbsp;point</p><p>Second<br/>line</p></div>"
    got = extract_item(item(itemType="note", note=html, parentItem="PARENT23"))
    assert got.row["note"] == "Reading notes & ideas\nFirst point\nSecond\nline"
    assert got.row["title"] == "Reading notes & ideas"
    assert got.row["parent_item"] == "PARENT23"
    assert note_text("") == ""


def test_title_comes_from_base_mapped_fields_and_year_from_free_text():
    case = extract_item(item(itemType="case", caseName="Marbury v. Madison", date="February 24, 1803"))
    assert (case.row["title"], case.row["year"]) == ("Marbury v. Madison", 1803)
    assert extract_item(item(itemType="email", subject="Re: draft")).row["title"] == "Re: draft"


def test_trashed_items_are_flagged():
    assert extract_item(item(itemType="book", title="Old", deleted=1)).trashed


def test_malformed_records_are_reported_not_raised():
    assert extract_item(["not", "an", "object"]).issues[0].reason == "not a JSON object"
    assert extract_item({"version": 3, "data": {}}).issues[0].reason == "item has no key"
    no_data = extract_item({"key": "ABCD2345", "version": 3, "data": "oops"})
    assert (no_data.key, no_data.row, no_data.issues[0].reason) == ("ABCD2345", None, "item has no data object")
    no_version = extract_item({"key": "ABCD2345", "version": "3", "data": {"key": "ABCD2345"}})
    assert no_version.row is None and no_version.issues[0].location == "version"


def test_malformed_fields_are_reported_and_emptied():
    got = extract_item(item(
        itemType="book", creators="Ada", tags=[{"tag": "ok"}, {"type": 1}, "  plain "], collections="C1",
        dateModified="yesterday", dateAdded="2020-02-30T00:00:00Z",
    ))
    row = got.row
    assert row["creators"] == [] and row["tags"] == ["ok", "plain"] and row["collections"] == []
    assert row["date_modified"] is None and row["date_added"] is None
    assert sorted(i.location for i in got.issues) == ["collections", "creators", "dateAdded", "dateModified", "tags"]


def test_a_huge_item_extracts():
    abstract = "word " * 400_000  # 2 MB of abstract
    tags = [{"tag": f"t{i}", "type": 1} for i in range(5000)]
    got = extract_item(item(itemType="journalArticle", title="Big", abstractNote=abstract, tags=tags))
    assert got.issues == [] and len(got.row["tags"]) == 5000 and got.row["_record"]["abstractNote"] == abstract


def test_wrongly_encoded_text_is_made_storable():
    # Mojibake is data and stays; NUL and lone surrogates (valid JSON escapes) cannot be stored in
    # Postgres and would fail the whole load: they are removed and the item says so.
    raw = json.loads(
        '{"key": "ABCD2345", "version": 1, "data": {"itemType": "note", '
        '"note": "<p>Ãœber \\udce9t\\u00e9\\u0000 from a PDF</p>", "tags": [{"tag": "x\\u0000y"}]}}'
    )
    got = extract_item(raw)
    assert got.row["note"] == "Ãœber \ufffdté from a PDF"
    assert got.row["tags"] == ["xy"]
    assert "\x00" not in json.dumps(got.row["_record"]) and "\\u0000" not in json.dumps(got.row["_record"])
    assert [i.location for i in got.issues] == ["text"]
