"""Read one markdown note of an Obsidian-style vault into a raw row plus the problems found in it.

python-frontmatter parses the YAML header. A note whose header is broken still loads its body (the
header goes to quarantine with the reason); a file that is not UTF-8 text does not load at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import frontmatter
import yaml

from studentops_assets.core.quarantine import Issue

# Obsidian's own header delimiter; used only to cut a header that YAML could not parse off the body.
_HEADER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_WIKILINK = re.compile(r"\[\[([^\]\|#\n]+)(?:#[^\]\|\n]*)?(?:\|[^\]\n]*)?\]\]")
_INLINE_TAG = re.compile(r"(?<![\w/#&])#([A-Za-z][\w/-]*)")
# Crossref's recommended pattern for modern DOIs; parentheses are legal inside a DOI
# (10.1016/S0022-2836(05)80360-2), so an unbalanced closing one is trimmed afterwards instead.
_DOI = re.compile(r"\b(10\.\d{4,9}/[-._;()/:A-Za-z0-9]+)", re.IGNORECASE)
_CODE_FENCE = re.compile(r"```.*?```", re.DOTALL)
# A word is a whitespace-separated token with a letter or digit in it, as editors count them
# ("doi:10.1038/x" is one word, a lone "#" or "-" is none).
_WORD = re.compile(r"\S*\w\S*")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)

# Folder names that say what a note is when its frontmatter does not.
_TYPE_BY_FOLDER = {
    "assessments": "assessment",
    "assessment": "assessment",
    "readings": "reading",
    "reading": "reading",
    "courses": "lecture",
    "lectures": "lecture",
    "daily": "daily",
}


def normalise_doi(value: str) -> str | None:
    """Lowercase, without resolver prefixes or trailing punctuation; None if it is not a DOI."""
    text = value.strip()
    text = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", text, flags=re.IGNORECASE)
    match = _DOI.search(text)
    if not match:
        return None
    doi = match.group(1)
    while doi and (doi[-1] in ".,;:" or (doi[-1] == ")" and doi.count(")") > doi.count("("))):
        doi = doi[:-1]
    return doi.lower()


@dataclass(frozen=True)
class ParsedNote:
    row: dict[str, Any] | None  # None when the file could not be loaded at all
    issues: list[Issue]


def _json_safe(value: Any) -> Any:
    # YAML gives dates, datetimes and sets; jsonb needs plain JSON.
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,\s]+", value) if v.strip()]
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


def _parse_datetime(value: Any, tz: dt.tzinfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    else:
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        # A naive time in a note means the student's own wall clock.
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(dt.timezone.utc)


def _snippet(text: str, limit: int = 200) -> str:
    return text[:limit]


def parse_note(
    data: bytes,
    relative_path: PurePosixPath,
    modified_at: dt.datetime,
    student_tz: dt.tzinfo,
) -> ParsedNote:
    issues: list[Issue] = []
    head = data[:8192]
    if b"\x00" in head:
        return ParsedNote(None, [Issue("file", "binary file (NUL bytes), not a markdown note")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return ParsedNote(
            None,
            [Issue(f"line {line}", f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}",
                   _snippet(data[max(0, exc.start - 40): exc.start + 40].decode("utf-8", "replace")))],
        )

    meta: dict[str, Any] = {}
    body = text
    # frontmatter.loads() silently drops a header that is valid YAML but not a mapping; splitting and
    # loading with the library's own handler lets us tell the student instead.
    handler = frontmatter.detect_format(text, frontmatter.handlers)
    if handler is not None:
        header = _HEADER.match(text)
        try:
            raw_header, content = handler.split(text)
            loaded = handler.load(raw_header)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a broken JSON header
            # The handler's header text starts on the opening `---` line, so YAML's 0-based line
            # numbers plus one are the file's line numbers.
            mark = getattr(exc, "problem_mark", None)
            where = f"frontmatter line {mark.line + 1}" if mark else "frontmatter"
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            if context and context_mark:
                problem += f" {context} started on line {context_mark.line + 1}"
            issues.append(Issue(where, f"frontmatter is not valid YAML ({problem}); body loaded without metadata",
                                _snippet(header.group(1) if header else text)))
            body = text[header.end():] if header else text
        else:
            body = content
            if isinstance(loaded, dict):
                meta = loaded
            elif loaded is not None:
                issues.append(Issue("frontmatter", f"frontmatter is not a mapping (got a YAML {type(loaded).__name__}); "
                                    "body loaded without metadata", _snippet(raw_header)))

    def field(name: str, convert, *aliases: str):
        for key in (name, *aliases):
            if key in meta and meta[key] not in (None, ""):
                try:
                    return convert(meta[key])
                except (TypeError, ValueError) as exc:
                    issues.append(Issue(f"frontmatter.{key}", f"{key!r} is not valid: {exc}", _snippet(repr(meta[key]))))
                    return None
        return None

    def weight(value: Any) -> float:
        number = float(str(value).strip().rstrip("%"))
        if not 0 <= number <= 100:
            raise ValueError(f"{number} is outside 0..100 percent")
        return number

    parts = relative_path.parts
    folder_type = next((_TYPE_BY_FOLDER[p.lower()] for p in parts[:-1] if p.lower() in _TYPE_BY_FOLDER), None)
    note_type = (field("type", lambda v: str(v).strip().lower()) or folder_type or "note")

    prose = _CODE_FENCE.sub(" ", body)
    heading = _HEADING.search(body)
    tags = sorted(set(_as_list(meta.get("tags"))) | set(_INLINE_TAG.findall(prose)))
    dois = {d for d in (normalise_doi(m) for m in _DOI.findall(prose)) if d}
    for doi_value in _as_list(meta.get("doi")) + _as_list(meta.get("dois")):
        doi = normalise_doi(doi_value)
        if doi:
            dois.add(doi)
        else:
            issues.append(Issue("frontmatter.doi", f"not a DOI: {doi_value!r}"))

    row = {
        "path": str(relative_path),
        "title": str(meta.get("title") or (heading.group(1) if heading else relative_path.stem)),
        "note_type": note_type,
        "course_code": field("course", lambda v: str(v).strip()),
        "due_date": field("due", _parse_date, "due_date"),
        "weight_pct": field("weight", weight, "weight_pct"),
        "status": field("status", lambda v: str(v).strip().lower()),
        "source_updated_at": field("updated", lambda v: _parse_datetime(v, student_tz)),
        "tags": tags,
        "wikilinks": sorted({m.strip() for m in _WIKILINK.findall(prose)}),
        "dois": sorted(dois),
        "word_count": len(_WORD.findall(prose)),
        "frontmatter": _json_safe(meta),
        "body": body,
        "modified_at": modified_at,
        "content_sha256": hashlib.sha256(data).hexdigest(),
    }
    return ParsedNote(row, issues)
