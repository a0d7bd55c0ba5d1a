"""Read one RIS file into rows for `raw.ris_entries`, plus the problems found in it.

rispy parses a whole file as one stream, which makes one bad record cost the whole file or silently
swallow others:
- a continuation line right after `TY` is filed under the previous record's last tag, which raises
  KeyError for the entire file;
- a record without its `ER` line is merged into the next one (whose TY is then ignored), and the
  last record of a truncated file is dropped without a word;
- a BOM before the first `TY` hides that record.
So the file is split into records here, on its `TY  - ` and `ER  - ` lines, and rispy parses each
record on its own: a bad record is quarantined with its line and the others load.

The natural key of a record is sha256 over its type, title, DOI and year: RIS has no record id that
exporters keep stable (`ID` is often a per-export counter), and these four identify a work.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import rispy

from studentops_assets.core.quarantine import Issue

from .doi import doi_from_field, doi_from_url

SNIPPET = 300
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# rispy's own test for a tag line: two capitals/digits, two spaces, a dash.
_TAG_LINE = re.compile(r"^[A-Z][A-Z0-9]  -")
_START = re.compile(r"^TY  -")
_END = re.compile(r"^ER  -")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


@dataclass
class RisRecord:
    line: int  # 1-based line of its TY
    lines: list[str]


@dataclass
class ParsedRis:
    records: list[dict[str, Any]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


def split_records(text: str, issues: list[Issue]) -> list[RisRecord]:
    records: list[RisRecord] = []
    current: RisRecord | None = None
    stray_at: int | None = None  # first tagged line outside any record, reported once per stretch
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        line = line.lstrip("\ufeff")  # a BOM at the start of the file, or of a file appended to it
        if _START.match(line):
            if current is not None:
                issues.append(Issue(
                    f"line {current.line}",
                    f"RIS record has no ER line before the next record starts on line {number}; it is not loaded",
                    "\n".join(current.lines)[:SNIPPET],
                ))
            current = RisRecord(number, [line])
            stray_at = None
        elif current is not None:
            if _END.match(line):
                records.append(current)
                current = None
            else:
                current.lines.append(line)
        elif _TAG_LINE.match(line) and not _END.match(line) and stray_at is None:
            # Exporters put headers ("Record #1 of 2", "Provider: ...") between records, and a
            # doubled ER line is harmless; any other tagged line there is data that belongs to no record.
            stray_at = number
            issues.append(Issue(f"line {number}", "RIS tag outside a record (no TY line before it); ignored",
                                line[:SNIPPET]))
    if current is not None:
        issues.append(Issue(
            f"line {current.line}",
            "RIS record is truncated: the file ends before its ER line; it is not loaded",
            "\n".join(current.lines)[:SNIPPET],
        ))
    return records


def _json_safe(record: dict[str, Any]) -> dict[str, Any]:
    """rispy files unknown tags in a defaultdict, and a continuation line right after TY under the
    tag None; JSON wants plain dicts with string keys."""
    out = {}
    for key, value in record.items():
        if isinstance(value, dict):
            value = {("" if k is None else str(k)): list(v) for k, v in value.items()}
        out[key] = value
    return out


def _first(record: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = record.get(name)
        if isinstance(value, list):
            value = next((v for v in value if v and v.strip()), None)
        if value and str(value).strip():
            return " ".join(str(value).split())
    return None


def _list(record: dict[str, Any], *names: str) -> list[str]:
    out = []
    for name in names:
        value = record.get(name) or []
        for item in value if isinstance(value, list) else [value]:
            if item and item.strip():
                out.append(" ".join(item.split()))
    return out


def natural_key_digest(reference_type: str, title: str | None, doi: str | None, year: int | None,
                       record: dict[str, Any]) -> str:
    """sha256 over type, title, DOI and year. A record with none of the last three cannot be told
    apart by them (three bare `TY  - JOUR` notes would collide), so its whole content is hashed too."""
    identity = "\x1f".join([reference_type, title or "", doi or "", "" if year is None else str(year)])
    if not (title or doi or year is not None):
        identity += "\x1f" + json.dumps(record, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def _row(record: dict[str, Any], source: RisRecord, index: int) -> dict[str, Any]:
    reference_type = (record.get("type_of_reference") or "").strip()
    title = _first(record, "title", "primary_title", "translated_title", "short_title")
    urls = _list(record, "urls")
    doi = doi_from_field(_first(record, "doi"))
    if doi is None:
        doi = next((d for d in (doi_from_url(u) for u in urls) if d), None)
    year_text = _first(record, "year", "publication_year", "date") or ""
    year = _YEAR.search(year_text)
    year_value = int(year.group(1)) if year else None
    start, end = _first(record, "start_page"), _first(record, "end_page")
    return {
        "key_digest": natural_key_digest(reference_type, title, doi, year_value, _json_safe(record)),
        "record_index": index,
        "line": source.line,
        "reference_type": reference_type,
        "title": title,
        "authors": _list(record, "authors", "first_authors"),
        "year": year_value,
        "journal": _first(record, "journal_name", "alternate_title3", "secondary_title", "alternate_title1",
                          "alternate_title2"),
        "volume": _first(record, "volume"),
        "issue": _first(record, "number"),
        "pages": f"{start}-{end}" if start and end else start,
        "doi": doi,
        "urls": urls,
        "abstract": _first(record, "abstract", "notes_abstract"),
        "keywords": _list(record, "keywords"),
        "_record": _json_safe(record),
    }


def parse_ris(text: str) -> ParsedRis:
    parsed = ParsedRis()
    records = split_records(text, parsed.issues)
    for index, source in enumerate(records, start=1):
        snippet = "\n".join(source.lines)[:SNIPPET]
        try:
            found = rispy.loads("\n".join([*source.lines, "ER  - "]))
        except Exception as exc:  # rispy raises bare KeyError/TypeError on some malformed records
            parsed.issues.append(Issue(f"line {source.line}",
                                       f"rispy cannot parse this RIS record ({type(exc).__name__}: {exc}); "
                                       f"it is not loaded", snippet))
            continue
        if len(found) != 1 or not (found[0].get("type_of_reference") or "").strip():
            parsed.issues.append(Issue(f"line {source.line}", "RIS record has no reference type (empty TY); "
                                                              "it is not loaded", snippet))
            continue
        parsed.records.append(_row(found[0], source, index))
    if not records and not parsed.issues:
        parsed.issues.append(Issue("file", "no RIS records in this file (no line starts with 'TY  - ')"))
    return parsed
