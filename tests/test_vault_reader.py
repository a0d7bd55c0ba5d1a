"""parse_note on hand-made nasty cases; real vault notes are exercised by the slice tests."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

import pytest

from studentops_assets.notes.vault_reader import normalise_doi, parse_note

AMS = ZoneInfo("Europe/Amsterdam")
MTIME = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)


def parse(text: str | bytes, path: str = "assessments/essay.md"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_note(data, PurePosixPath(path), MTIME, AMS)


def test_assessment_frontmatter_is_typed():
    parsed = parse(
        "---\ntype: Assessment\ncourse: cs-101\ndue: 2026-12-05\nweight: 30%\nstatus: In-Progress\n"
        "updated: 2026-11-20T09:30:00\ntags: [exam, essay]\n---\n"
        "# Essay on [[Lecture 01|the intro]] and [[Graphs#BFS]]\n"
        "Cites doi:10.1038/NATURE14539. and https://doi.org/10.1145/3292500.3330701, #revision\n"
        "```\n#not-a-tag [[not-a-link]] 10.9999/not.a.citation\n```\n"
    )
    assert parsed.issues == []
    row = parsed.row
    assert row["note_type"] == "assessment"
    assert row["course_code"] == "cs-101"
    assert row["due_date"] == dt.date(2026, 12, 5)
    assert row["weight_pct"] == 30.0
    assert row["status"] == "in-progress"
    # A naive `updated` is the student's wall clock: 09:30 in Amsterdam (CET) is 08:30 UTC.
    assert row["source_updated_at"] == dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.timezone.utc)
    assert row["tags"] == ["essay", "exam", "revision"]
    assert row["wikilinks"] == ["Graphs", "Lecture 01"]
    assert row["dois"] == ["10.1038/nature14539", "10.1145/3292500.3330701"]
    assert row["title"] == "Essay on [[Lecture 01|the intro]] and [[Graphs#BFS]]"
    assert row["frontmatter"]["due"] == "2026-12-05"


def test_broken_yaml_keeps_the_body_and_says_where():
    parsed = parse("---\ntitle: [unclosed\ncourse: CS101\n---\nThe body survives with 6 words.\n")
    assert parsed.row is not None
    assert parsed.row["frontmatter"] == {}
    assert parsed.row["body"].strip() == "The body survives with 6 words."
    assert parsed.row["word_count"] == 6
    assert parsed.row["note_type"] == "assessment"  # from the folder, since the header is gone
    (issue,) = parsed.issues
    assert issue.location == "frontmatter line 3"
    assert "flow sequence started on line 2" in issue.reason
    assert "not valid YAML" in issue.reason
    assert "title: [unclosed" in issue.snippet


def test_frontmatter_that_is_not_a_mapping():
    parsed = parse("---\n- just\n- a list\n---\nBody\n", path="misc/list.md")
    assert parsed.row["frontmatter"] == {} and parsed.row["note_type"] == "note"
    assert "not a mapping" in parsed.issues[0].reason


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("weight", "150", "outside 0..100"), ("due", "next friday", "'due' is not valid"), ("weight", "heavy", "'weight' is not valid")],
)
def test_invalid_field_is_quarantined_but_the_note_loads(field, value, message):
    parsed = parse(f"---\ntype: assessment\n{field}: {value}\n---\nBody\n")
    assert parsed.row is not None and parsed.row["due_date"] is None and parsed.row["weight_pct"] is None
    assert [i.location for i in parsed.issues] == [f"frontmatter.{field}"]
    assert message in parsed.issues[0].reason


def test_binary_and_undecodable_files_do_not_load():
    binary = parse(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert binary.row is None and "binary" in binary.issues[0].reason
    latin1 = parse("---\ntitle: Caf\u00e9\n---\nline two\nna\u00efve\n".encode("latin-1"))
    assert latin1.row is None
    assert latin1.issues[0].location == "line 2"
    assert "not UTF-8" in latin1.issues[0].reason and "0xe9" in latin1.issues[0].reason


def test_bom_and_crlf_and_empty_file():
    parsed = parse("\ufeff---\r\ntype: lecture\r\ncourse: MATH201\r\n---\r\nHello world\r\n")
    assert parsed.issues == [] and parsed.row["course_code"] == "MATH201" and parsed.row["word_count"] == 2
    empty = parse(b"", path="courses/CS101/empty.md")
    assert empty.issues == [] and empty.row["word_count"] == 0 and empty.row["note_type"] == "lecture"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://doi.org/10.1037/0003-066X.55.1.68", "10.1037/0003-066x.55.1.68"),
        ("doi: 10.48550/arXiv.1706.03762.", "10.48550/arxiv.1706.03762"),
        ("http://dx.doi.org/10.1145/3292500.3330701", "10.1145/3292500.3330701"),
        ("(see doi:10.1016/S0022-2836(05)80360-2).", "10.1016/s0022-2836(05)80360-2"),
        ("(doi:10.1038/nature14539)", "10.1038/nature14539"),
        ("not a doi", None),
    ],
)
def test_normalise_doi(raw, expected):
    assert normalise_doi(raw) == expected
