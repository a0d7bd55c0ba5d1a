"""Read one BibTeX file into rows for `raw.bibtex_entries`, plus the problems found in it.

bibtexparser 2 splits the file into blocks; a block it cannot parse becomes a ParsingFailedBlock and
the blocks after it still parse, so a broken entry costs only itself. On top of the split:
- @string macros are expanded the way BibTeX does, concatenations (`jan # " 1"`) included:
  bibtexparser's own interpolation only replaces a value that is one bare macro name.
- crossref is resolved: an entry inherits every field it lacks from its parent, and an in* entry
  (inproceedings, incollection, inbook) gets the parent's title as its booktitle, as biblatex does.
- LaTeX is decoded to Unicode with bibtexparser's LatexDecodingMiddleware (pylatexenc) in the text
  columns (title, authors, journal, booktitle, publisher, abstract, keywords). url and doi are
  verbatim fields in biblatex: there `\\_` and `{}` are only unescaped (a `%` in a URL is no comment).
- A repeated citation key keeps the FIRST entry (as BibTeX itself does); every later one goes to
  quarantine. A repeated field keeps its first value and the entry loads, with a quarantine note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import bibtexparser
from bibtexparser.library import Library
from bibtexparser.middlewares import LatexDecodingMiddleware
from bibtexparser.middlewares.names import parse_single_name_into_parts, split_multiple_persons_names
from bibtexparser.model import (
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    Field,
    ParsingFailedBlock,
    String,
)

from studentops_assets.core.quarantine import Issue

from .doi import doi_from_field, doi_from_url, unescape_verbatim

SNIPPET = 300
# Fields that name or group the entry itself; a child never takes them from its crossref parent.
NOT_INHERITED = {"crossref", "xref", "ids", "entryset", "label", "shorthand", "sortkey", "key"}
# The month macros every standard BibTeX style defines.
MONTHS = {m[:3].lower(): m for m in ("January", "February", "March", "April", "May", "June", "July",
                                     "August", "September", "October", "November", "December")}

# Only these make LaTeX decoding change more than braces; without them a value is decoded by
# dropping its braces, which is what pylatexenc would return, at a tiny fraction of the cost.
_NEEDS_DECODER = re.compile(r"[\\$~]|--|``|''")
# In LaTeX a bare % starts a comment, & separates table columns and # marks a macro parameter; in a
# bibliography field they mean the character itself (`50% of`, `Tom & Jerry`): escaped before decoding.
_BARE_SPECIAL = re.compile(r"(?<!\\)([%&#])")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_KEYWORD_SPLIT = re.compile(r"[,;]")
_EXTENDED_NAME = re.compile(r"^\s*(family|given|prefix|suffix)\s*=", re.IGNORECASE)


@dataclass
class ParsedBibtex:
    entries: list[dict[str, Any]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    duplicate_keys: int = 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _split_concatenation(value: str) -> list[str]:
    """`"John " # myname` -> ['"John "', 'myname']: split on # outside braces and quotes."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(value):
        char = value[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == '"' and depth == 0:
            quoted = not quoted
        elif char == "#" and depth == 0 and not quoted:
            parts.append(value[start:i])
            start = i + 1
        i += 1
    parts.append(value[start:])
    return [p.strip() for p in parts]


def expand(value: str, macros: dict[str, str]) -> str:
    """A raw field value as BibTeX reads it: delimiters removed, macros replaced, parts joined."""
    out = []
    for part in _split_concatenation(value):
        if len(part) >= 2 and ((part[0] == "{" and part[-1] == "}") or (part[0] == '"' and part[-1] == '"')):
            out.append(part[1:-1])
        elif part.isdigit():
            out.append(part)
        else:
            # An undefined macro: BibTeX warns and goes on; keeping its name loses the least.
            out.append(macros.get(part.lower(), MONTHS.get(part.lower(), part)))
    return "".join(out)


class LatexText:
    """Decodes many values in one pass of bibtexparser's LatexDecodingMiddleware."""

    def __init__(self) -> None:
        self._middleware = LatexDecodingMiddleware(allow_inplace_modification=True)

    def decode_all(self, values: list[str]) -> list[str | None]:
        """Unicode for each value; None where pylatexenc failed (the caller keeps the raw text)."""
        out: list[str | None] = [None] * len(values)
        # pylatexenc costs ~0.3 ms a value; a library repeats its authors and venues, so each
        # distinct value is decoded once.
        pending: dict[str, list[int]] = {}
        for i, value in enumerate(values):
            if _NEEDS_DECODER.search(value):
                pending.setdefault(value, []).append(i)
            else:
                out[i] = _one_line(value.replace("{", "").replace("}", ""))
        if pending:
            distinct = list(pending)
            batch = Library([Entry("value", str(n), [Field("v", _BARE_SPECIAL.sub(r"\\\1", v))])
                             for n, v in enumerate(distinct)])
            for block in self._middleware.transform(batch).blocks:
                if isinstance(block, Entry):  # a MiddlewareErrorBlock leaves its slots None
                    for i in pending[distinct[int(block.key)]]:
                        out[i] = _one_line(block["v"])
        return out


def _fields_of(entry: Entry, issues: list[Issue], line: int) -> dict[str, str]:
    """Field name (lowercase) -> raw value; the first of repeated fields wins."""
    fields: dict[str, str] = {}
    repeated = []
    for f in entry.fields:
        name = f.key.lower()
        if name in fields:
            repeated.append(name)
            continue
        fields[name] = f.value if isinstance(f.value, str) else str(f.value)
    if repeated:
        issues.append(Issue(
            f"line {line}",
            f"entry '{entry.key}' repeats field(s) {', '.join(sorted(set(repeated)))}: the first value is kept",
        ))
    return fields


def _failed_block_issue(block: ParsingFailedBlock) -> Issue:
    line = (block.start_line or 0) + 1
    raw = block.raw or ""
    # BlockAbortedException carries the reason; the splitter only logs it in its message.
    reason = _one_line(getattr(block.error, "abort_reason", None) or str(block.error) or type(block.error).__name__)
    end_line = line + raw.rstrip().count("\n")
    where = f"lines {line}-{end_line}" if end_line > line else f"line {line}"
    return Issue(
        f"line {line}",
        f"BibTeX syntax error in {where}: {reason}; this block is skipped, the rest of the file loads",
        raw[:SNIPPET],
    )


@dataclass
class _RawEntry:
    key: str
    entry_type: str
    line: int
    raw: dict[str, str]  # as written
    fields: dict[str, str]  # macros expanded


def _collect(library: Library, issues: list[Issue]) -> tuple[list[_RawEntry], int]:
    macros: dict[str, str] = {}
    entries: list[Entry] = []
    duplicates = 0
    for block in library.blocks:
        if isinstance(block, String):
            macros[block.key.lower()] = expand(block.value, macros)
        elif isinstance(block, DuplicateBlockKeyBlock):
            if isinstance(block.ignore_error_block, String):
                # A redefined @string: BibTeX uses the later value.
                string = block.ignore_error_block
                macros[string.key.lower()] = expand(string.value, macros)
                continue
            duplicates += 1
            first = block.previous_block.start_line
            issues.append(Issue(
                f"line {(block.start_line or 0) + 1}",
                f"duplicate citation key '{block.key}' (first defined on line {(first or 0) + 1}): "
                f"the first entry is kept, this one is not loaded",
                (block.raw or "")[:SNIPPET],
            ))
        elif isinstance(block, DuplicateFieldKeyBlock):
            entries.append(block.ignore_error_block)  # _fields_of keeps the first value and says so
        elif isinstance(block, ParsingFailedBlock):
            issues.append(_failed_block_issue(block))
        elif isinstance(block, Entry):
            entries.append(block)
    collected = []
    for entry in entries:
        line = (entry.start_line or 0) + 1
        raw = _fields_of(entry, issues, line)
        collected.append(_RawEntry(entry.key, entry.entry_type.lower(), line, raw,
                                   {k: expand(v, macros) for k, v in raw.items()}))
    return collected, duplicates


def _resolve_crossrefs(entries: list[_RawEntry], issues: list[Issue]) -> dict[str, dict[str, str]]:
    """Citation key -> the entry's own fields plus those it inherits along its crossref chain."""
    by_key = {e.key.lower(): e for e in entries}
    resolved: dict[str, dict[str, str]] = {}

    def effective(entry: _RawEntry, chain: tuple[str, ...]) -> dict[str, str]:
        if entry.key in resolved:
            return resolved[entry.key]
        parent_key = entry.fields.get("crossref", "").strip()
        merged = dict(entry.fields)
        if parent_key:
            parent = by_key.get(parent_key.lower())
            if parent is None:
                issues.append(Issue(f"line {entry.line}",
                                    f"entry '{entry.key}': crossref target '{parent_key}' is not in this file"))
            elif parent.key in chain or parent.key == entry.key:
                cycle = " -> ".join([*chain, entry.key, parent.key])
                issues.append(Issue(f"line {entry.line}",
                                    f"entry '{entry.key}': crossref cycle {cycle}; nothing is inherited past it"))
            else:
                inherited = effective(parent, (*chain, entry.key))
                for name, value in inherited.items():
                    if name not in NOT_INHERITED:
                        merged.setdefault(name, value)
                if entry.entry_type.startswith("in") and "booktitle" not in entry.fields and "title" in inherited:
                    merged["booktitle"] = inherited.get("booktitle", inherited["title"])
        resolved[entry.key] = merged
        return merged

    for entry in entries:
        effective(entry, ())
    return resolved


def _person_names(value: str) -> list[str]:
    """Names in 'von Last, Jr, First' form, still LaTeX; 'others' (et al.) is dropped."""
    names = []
    for name in split_multiple_persons_names(value):
        if name.strip().lower() == "others":
            continue
        if _EXTENDED_NAME.match(name):
            names.append(_extended_name(name))
            continue
        names.append(parse_single_name_into_parts(name, strict=False).merge_last_name_first or name)
    return names


def _extended_name(name: str) -> str:
    """biblatex's `given=Sam, family=Researcher, prefix=von` in the same 'von Last, Jr, First' form."""
    parts = {}
    for item in name.split(","):
        key, sep, value = item.partition("=")
        if sep:
            parts[key.strip().lower()] = value.strip()
    last = " ".join(p for p in (parts.get("prefix"), parts.get("family")) if p)
    return ", ".join(p for p in (last, parts.get("suffix"), parts.get("given")) if p) or name


# Text columns and the fields they come from, first non-empty wins.
TEXT_COLUMNS = (("title", ("title",)), ("journal", ("journal", "journaltitle")), ("booktitle", ("booktitle",)),
                ("publisher", ("publisher",)), ("abstract", ("abstract",)), ("keywords", ("keywords",)))


def _decoded_columns(raw_entries: list[_RawEntry], effective: dict[str, dict[str, str]],
                     ) -> tuple[list[dict[str, Any]], dict[int, set[str]]]:
    """Per entry, its text columns and author names decoded to Unicode (all values of the file in
    one batch), and per entry the columns pylatexenc could not decode (loaded as written)."""
    texts: list[str] = []
    slots: list[tuple[int, str]] = []  # (entry index, column); "authors" slots come in name order
    for index, entry in enumerate(raw_entries):
        fields = effective[entry.key]
        for column, names in TEXT_COLUMNS:
            value = next((fields[n] for n in names if fields.get(n, "").strip()), None)
            if value is not None:
                slots.append((index, column))
                texts.append(value)
        for name in _person_names(fields.get("author", "")):
            slots.append((index, "authors"))
            texts.append(name)
    columns: list[dict[str, Any]] = [{"authors": []} for _ in raw_entries]
    undecodable: dict[int, set[str]] = {}
    for (index, column), raw_value, value in zip(slots, texts, LatexText().decode_all(texts)):
        if value is None:
            undecodable.setdefault(index, set()).add(column)
            value = _one_line(raw_value)
        if column == "authors":
            columns[index]["authors"].append(value)
        else:
            columns[index][column] = value
    return columns, undecodable


def parse_bibtex(text: str) -> ParsedBibtex:
    parsed = ParsedBibtex()
    try:
        library = bibtexparser.parse_string(text, parse_stack=[])
    except Exception as exc:  # the splitter is lenient; anything it raises is a bug on unusual input
        parsed.issues.append(Issue("file", f"bibtexparser could not split this file: {type(exc).__name__}: "
                                           f"{_one_line(str(exc))[:200]}"))
        return parsed
    raw_entries, parsed.duplicate_keys = _collect(library, parsed.issues)
    if not raw_entries and not parsed.issues:
        parsed.issues.append(Issue("file", "no BibTeX entries in this file"))
        return parsed
    effective = _resolve_crossrefs(raw_entries, parsed.issues)

    columns, undecodable = _decoded_columns(raw_entries, effective)
    for index, entry in enumerate(raw_entries):
        fields = effective[entry.key]
        got = columns[index]
        if index in undecodable:
            parsed.issues.append(Issue(
                f"line {entry.line}",
                f"entry '{entry.key}': LaTeX in {', '.join(sorted(undecodable[index]))} could not be decoded; "
                f"the text is loaded as written",
            ))
        doi = doi_from_field(fields.get("doi"))
        if fields.get("doi", "").strip() and doi is None:
            parsed.issues.append(Issue(f"line {entry.line}",
                                       f"entry '{entry.key}': doi field holds no DOI", fields["doi"][:SNIPPET]))
        url = unescape_verbatim(fields["url"]) if fields.get("url", "").strip() else None
        if doi is None and url:
            doi = doi_from_url(url)
        year = _YEAR.search(fields.get("year") or fields.get("date") or "")
        parsed.entries.append({
            "citation_key": entry.key,
            "entry_type": entry.entry_type,
            "title": got.get("title"),
            "authors": got["authors"],
            "year": int(year.group(1)) if year else None,
            "journal": got.get("journal"),
            "booktitle": got.get("booktitle"),
            "publisher": got.get("publisher"),
            "volume": _one_line(unescape_verbatim(fields["volume"])) if fields.get("volume") else None,
            "pages": re.sub(r"-+", "-", _one_line(unescape_verbatim(fields["pages"]))) if fields.get("pages") else None,
            "doi": doi,
            "url": url,
            "abstract": got.get("abstract"),
            "keywords": [k.strip() for k in _KEYWORD_SPLIT.split(got.get("keywords") or "") if k.strip()],
            "crossref": fields.get("crossref", "").strip() or None,
            "line": entry.line,
            "_record": {
                "entry_type": entry.entry_type,
                "key": entry.key,
                "line": entry.line,
                "fields": entry.raw,
                "inherited": {k: v for k, v in fields.items() if k not in entry.fields},
            },
        })
    return parsed
