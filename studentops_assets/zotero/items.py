"""One Zotero item (API v3 JSON) -> the extracted columns of `raw.zotero_items`.

An item as the API returns it is `{key, version, library, links, meta, data}`; `data` is the item
itself (its fields depend on `itemType`) and is kept whole as `_record`. A record that cannot be
loaded (no key, no data) is reported; a field that cannot be read (a DOI that is not one, a broken
dateModified) is reported and left empty while the rest of the item loads.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from studentops_assets.core.quarantine import Issue
from studentops_assets.notes.vault_reader import normalise_doi

# Item types whose title lives in another base-mapped field (Zotero's schema: title <- caseName etc.).
TITLE_FIELDS = ("title", "caseName", "nameOfAct", "subject")
_EXTRA_DOI = re.compile(r"^\s*DOI\s*:\s*(\S.*)$", re.IGNORECASE | re.MULTILINE)
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_BLOCK_TAGS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr"}
SNIPPET_CHARS = 120


@dataclass(frozen=True)
class ExtractedItem:
    key: str | None
    version: int | None
    row: dict[str, Any] | None  # None: not loadable (issues say why)
    trashed: bool
    issues: list[Issue]


class _NoteText(HTMLParser):
    """Zotero notes are HTML; the text keeps one line per block so the first line is the title."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def note_text(html: str) -> str:
    parser = _NoteText()
    parser.feed(html)
    parser.close()
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line)


def _snippet(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:SNIPPET_CHARS]


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _timestamp(value: Any, name: str, issues: list[Issue]) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            # Zotero writes UTC ("2011-02-02T22:26:36Z"); a time without zone is taken as UTC too.
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    issues.append(Issue(name, "not an ISO 8601 timestamp", _snippet(value)))
    return None


def _year(parsed_date: Any, raw_date: str | None) -> int | None:
    # meta.parsedDate is Zotero's own reading of the free-text date ("1992-00-00" for a bare year).
    for candidate in (parsed_date, raw_date):
        if isinstance(candidate, str):
            match = _YEAR.search(candidate)
            if match and int(match.group(1)) > 0:
                return int(match.group(1))
    return None


def _doi(data: dict[str, Any], issues: list[Issue]) -> str | None:
    field = data.get("DOI")
    if isinstance(field, str) and field.strip():
        doi = normalise_doi(field)
        if doi:
            return doi
        issues.append(Issue("DOI", "not a DOI", _snippet(field)))
    # Item types without a DOI field (books, reports, theses) carry it in Extra as "DOI: 10.x/y".
    extra = data.get("extra")
    if isinstance(extra, str):
        for match in _EXTRA_DOI.finditer(extra):
            doi = normalise_doi(match.group(1))
            if doi:
                return doi
            issues.append(Issue("extra", "DOI line is not a DOI", _snippet(match.group(0).strip())))
    return None


def _creators(value: Any, issues: list[Issue]) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        issues.append(Issue("creators", "not a list", _snippet(value)))
        return []
    return value


def _tags(value: Any, issues: list[Issue]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        issues.append(Issue("tags", "not a list", _snippet(value)))
        return []
    tags: list[str] = []
    for entry in value:
        tag = entry.get("tag") if isinstance(entry, dict) else entry
        if isinstance(tag, str) and tag.strip():
            tags.append(tag.strip())
        else:
            issues.append(Issue("tags", "tag without text", _snippet(entry)))
    return tags


def _collections(value: Any, issues: list[Issue]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        issues.append(Issue("collections", "not a list of collection keys", _snippet(value)))
        return [c for c in value if isinstance(c, str)] if isinstance(value, list) else []
    return value


def _clean_text(value: Any, found: list[bool]) -> Any:
    """Postgres text and jsonb refuse NUL characters and lone UTF-16 surrogates (both valid JSON
    escapes); one such character would fail the whole load, so they are dropped or replaced here."""
    if isinstance(value, str):
        cleaned = _UNSTORABLE.sub(lambda m: "" if m.group(0) == "\x00" else "\ufffd", value)
        if cleaned != value:
            found[0] = True
        return cleaned
    if isinstance(value, list):
        return [_clean_text(v, found) for v in value]
    if isinstance(value, dict):
        return {_clean_text(k, found): _clean_text(v, found) for k, v in value.items()}
    return value


def extract_item(item: Any) -> ExtractedItem:
    found = [False]
    item = _clean_text(item, found)
    extracted = _extract(item)
    if found[0]:
        extracted.issues.append(Issue("text", "NUL characters or lone UTF-16 surrogates removed (Postgres cannot store them)"))
    return extracted


def _extract(item: Any) -> ExtractedItem:
    if not isinstance(item, dict):
        return ExtractedItem(None, None, None, False, [Issue("item", "not a JSON object", _snippet(item))])
    data = item.get("data")
    key = item.get("key") if isinstance(item.get("key"), str) else None
    if key is None and isinstance(data, dict) and isinstance(data.get("key"), str):
        key = data["key"]
    version = item.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        version = data.get("version") if isinstance(data, dict) else None
    version = version if isinstance(version, int) and not isinstance(version, bool) else None
    if not key or not key.strip():
        return ExtractedItem(None, version, None, False, [Issue("key", "item has no key", _snippet(item))])
    key = key.strip()
    if not isinstance(data, dict):
        return ExtractedItem(key, version, None, False, [Issue("data", "item has no data object", _snippet(data))])
    if version is None:
        return ExtractedItem(key, None, None, False, [Issue("version", "item has no integer version", _snippet(item.get("version")))])

    issues: list[Issue] = []
    meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
    item_type = _text(data.get("itemType"))
    note = None
    if item_type == "note" and isinstance(data.get("note"), str):
        note = note_text(data["note"])
    title = next((t for t in (_text(data.get(f)) for f in TITLE_FIELDS) if t), None)
    if title is None and note:
        title = note.splitlines()[0]
    raw_date = _text(data.get("date"))
    parent = data.get("parentItem")
    row = {
        "item_key": key,
        "item_version": version,
        "item_type": item_type,
        "title": title,
        "doi": _doi(data, issues),
        "date_raw": raw_date,
        "year": _year(meta.get("parsedDate"), raw_date),
        "creators": _creators(data.get("creators"), issues),
        "tags": _tags(data.get("tags"), issues),
        "collections": _collections(data.get("collections"), issues),
        "parent_item": parent.strip() if isinstance(parent, str) and parent.strip() else None,
        "note": note,
        "url": _text(data.get("url")),
        "date_added": _timestamp(data.get("dateAdded"), "dateAdded", issues),
        "date_modified": _timestamp(data.get("dateModified"), "dateModified", issues),
        "_record": data,
    }
    # With includeTrashed=1 the trash comes along, flagged `deleted`; trashed items leave the table.
    trashed = bool(data.get("deleted"))
    return ExtractedItem(key, version, row, trashed, issues)
