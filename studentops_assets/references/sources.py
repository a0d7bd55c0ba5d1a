"""dlt sources for the reference inbox: `raw.bibtex_entries` and `raw.ris_entries`.

Processed files are remembered in dlt's resource state as `{"<student_id>:<path>": {"sha256", "keys"}}`.
dlt commits that state with the loaded rows, so a run that fails before loading leaves it untouched
and the rerun reads the same files again; a file whose bytes are unchanged is not read again, so its
rows (and `_loaded_at`) stay exactly as they were.

An edited file is reloaded as a whole: its current entries are upserted and entries it no longer
has are deleted (tombstones), using the keys the state remembers for that file.

A file removed from the inbox keeps its rows. The inbox is a drop folder, not a mirror of a library:
students drop an export, and tidy the folder later; deleting the file must not delete their
references. To retract references, drop an edited version of the file (or an empty one) under the
same name. Files are never modified or deleted by StudentOps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt

from studentops_assets.core.dlt_support import create_table_once
from studentops_assets.core.quarantine import Issue, QuarantineBatch
from studentops_assets.core.settings import Student

from .bibtex_reader import parse_bibtex
from .inbox import InboxFile, decode, discover, sha256, unassigned_issue
from .ris_reader import parse_ris

BIBTEX_SOURCE = "bibtex"
RIS_SOURCE = "ris"

_COMMON_HEAD: dict[str, dict[str, Any]] = {
    "student_id": {"data_type": "text", "nullable": False, "description": "Configured student (platform users.id)"},
    "file": {"data_type": "text", "nullable": False, "description": "Path of the file inside the inbox"},
}
_COMMON_TAIL: dict[str, dict[str, Any]] = {
    "content_sha256": {"data_type": "text", "description": "Version marker: sha256 of the file's bytes"},
    "source_encoding": {"data_type": "text", "description": "Charset the file was decoded with (utf-8, cp1252, ...)"},
    "_record": {"data_type": "json", "description": "The whole record as parsed, before extraction"},
    "_source": {"data_type": "text", "description": "'bibtex' or 'ris'"},
    "_loaded_at": {"data_type": "timestamp", "description": "When the run that loaded this version started"},
    "_deleted": {"data_type": "bool", "hard_delete": True, "description": "Tombstone: removes the row"},
}

BIBTEX_COLUMNS: dict[str, dict[str, Any]] = {
    "_natural_key": {"data_type": "text", "nullable": False, "description": "student_id:file:citation_key"},
    **_COMMON_HEAD,
    "citation_key": {"data_type": "text", "nullable": False, "description": "The entry's key, as written"},
    "entry_type": {"data_type": "text", "description": "article, inproceedings, book, ... (lowercase)"},
    "title": {"data_type": "text", "description": "Title, LaTeX decoded to Unicode"},
    "authors": {"data_type": "json", "description": "Authors as 'von Last, Jr, First', decoded; 'others' dropped"},
    "year": {"data_type": "bigint", "description": "year, else the year of biblatex's date"},
    "journal": {"data_type": "text", "description": "journal (or biblatex journaltitle)"},
    "booktitle": {"data_type": "text", "description": "booktitle, from the crossref parent's title if absent"},
    "publisher": {"data_type": "text", "description": "publisher"},
    "volume": {"data_type": "text", "description": "volume"},
    "pages": {"data_type": "text", "description": "pages, '--' written as '-'"},
    "doi": {"data_type": "text", "description": "DOI, normalised (lowercase, no resolver prefix)"},
    "url": {"data_type": "text", "description": "url, TeX escapes removed"},
    "abstract": {"data_type": "text", "description": "abstract, decoded"},
    "keywords": {"data_type": "json", "description": "keywords split on , and ;"},
    "crossref": {"data_type": "text", "description": "Citation key of the crossref parent, if any"},
    "line": {"data_type": "bigint", "description": "Line of the entry in the file (1-based)"},
    **_COMMON_TAIL,
}

RIS_COLUMNS: dict[str, dict[str, Any]] = {
    "_natural_key": {"data_type": "text", "nullable": False,
                     "description": "student_id:sha256(type, title, DOI, year) (see ris_reader)"},
    **_COMMON_HEAD,
    "record_index": {"data_type": "bigint", "description": "Position of the record in the file (1-based)"},
    "line": {"data_type": "bigint", "description": "Line of the record's TY tag (1-based)"},
    "reference_type": {"data_type": "text", "description": "TY, as written (JOUR, BOOK, CONF, ...)"},
    "title": {"data_type": "text", "description": "TI, else T1, TT, ST"},
    "authors": {"data_type": "json", "description": "AU then A1, in file order"},
    "year": {"data_type": "bigint", "description": "From PY, else Y1, else DA"},
    "journal": {"data_type": "text", "description": "JO, else JF, T2, J2, JA"},
    "volume": {"data_type": "text", "description": "VL"},
    "issue": {"data_type": "text", "description": "IS"},
    "pages": {"data_type": "text", "description": "SP-EP"},
    "doi": {"data_type": "text", "description": "DO (else a doi.org UR), normalised"},
    "urls": {"data_type": "json", "description": "UR values"},
    "abstract": {"data_type": "text", "description": "AB, else N2; continuation lines joined"},
    "keywords": {"data_type": "json", "description": "KW values"},
    **_COMMON_TAIL,
}


@dataclass(frozen=True)
class InboxSpec:
    inbox: Path
    students: tuple[Student, ...]


@dataclass
class InboxStats:
    """What one extraction did, for the asset's metadata."""

    files_in_inbox: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_unassigned: int = 0
    rows_upserted: int = 0
    rows_deleted: int = 0
    duplicates_skipped: int = 0


@dataclass
class _Context:
    state: dict[str, Any]
    quarantine: QuarantineBatch
    loaded_at: dt.datetime
    stats: InboxStats


def _read(file: InboxFile, ctx: _Context) -> bytes | None:
    try:
        return file.path.read_bytes()
    except OSError as exc:
        ctx.quarantine.record(file.student_id or "", file.relative, [Issue("file", f"cannot read: {exc.strerror}")])
        return None


def _tombstone(natural_key: str, student_id: str, file: str, key_column: dict[str, Any]) -> dict[str, Any]:
    return {"_natural_key": natural_key, "student_id": student_id, "file": file, **key_column, "_deleted": True}


def _bibtex_rows(file: InboxFile, data: bytes, digest: str, ctx: _Context) -> Iterator[dict[str, Any]]:
    student, key = file.student_id, f"{file.student_id}:{file.relative}"
    previous = ctx.state["files"].get(key, {}).get("keys", [])
    decoded = decode(data, honour_declared_encoding=True)
    if isinstance(decoded, Issue):
        # Unloadable now: the rows of an earlier good version, if any, stay.
        ctx.quarantine.record(student, file.relative, [decoded])
        ctx.state["files"][key] = {"sha256": digest, "keys": previous}
        return
    parsed = parse_bibtex(decoded.text)
    ctx.quarantine.record(student, file.relative, parsed.issues)
    ctx.stats.duplicates_skipped += parsed.duplicate_keys
    keys = []
    for entry in parsed.entries:
        keys.append(entry["citation_key"])
        yield {
            "_natural_key": f"{student}:{file.relative}:{entry['citation_key']}",
            "student_id": student,
            "file": file.relative,
            **entry,
            "content_sha256": digest,
            "source_encoding": decoded.encoding,
            "_source": BIBTEX_SOURCE,
            "_loaded_at": ctx.loaded_at,
            "_deleted": False,
        }
    gone = sorted(set(previous) - set(keys))
    for citation_key in gone:
        yield _tombstone(f"{student}:{file.relative}:{citation_key}", student, file.relative,
                         {"citation_key": citation_key})
    ctx.stats.rows_upserted += len(keys)
    ctx.stats.rows_deleted += len(gone)
    ctx.state["files"][key] = {"sha256": digest, "keys": keys}


def _ris_holders(files_state: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(student_id, record digest) -> the files (state keys) that contain that record."""
    holders: dict[tuple[str, str], set[str]] = {}
    for file_key, entry in files_state.items():
        student = file_key.split(":", 1)[0]
        for digest in entry.get("keys", []):
            holders.setdefault((student, digest), set()).add(file_key)
    return holders


def _ris_rows(file: InboxFile, data: bytes, digest: str, ctx: _Context,
              holders: dict[tuple[str, str], set[str]]) -> Iterator[dict[str, Any]]:
    """A RIS record's key is per student, not per file: the same work exported into two files is one
    row, loaded from the file that brought it first and kept while any file still holds it."""
    student, key = file.student_id, f"{file.student_id}:{file.relative}"
    previous = ctx.state["files"].get(key, {}).get("keys", [])
    decoded = decode(data)
    if isinstance(decoded, Issue):
        ctx.quarantine.record(student, file.relative, [decoded])
        ctx.state["files"][key] = {"sha256": digest, "keys": previous}
        return
    parsed = parse_ris(decoded.text)
    issues = list(parsed.issues)
    first_line: dict[str, int] = {}
    keys: list[str] = []
    upserted = 0
    for record in parsed.records:
        record_digest = record.pop("key_digest")
        if record_digest in first_line:
            ctx.stats.duplicates_skipped += 1
            issues.append(Issue(
                f"line {record['line']}",
                f"same type, title, DOI and year as the record on line {first_line[record_digest]}: "
                f"the first is kept, this one is not loaded",
            ))
            continue
        first_line[record_digest] = record["line"]
        keys.append(record_digest)
        elsewhere = holders.get((student, record_digest), set()) - {key}
        if elsewhere:
            ctx.stats.duplicates_skipped += 1
            continue
        upserted += 1
        yield {
            "_natural_key": f"{student}:{record_digest}",
            "student_id": student,
            "file": file.relative,
            **record,
            "content_sha256": digest,
            "source_encoding": decoded.encoding,
            "_source": RIS_SOURCE,
            "_loaded_at": ctx.loaded_at,
            "_deleted": False,
        }
    ctx.quarantine.record(student, file.relative, issues)
    gone = [d for d in sorted(set(previous) - set(keys)) if not holders.get((student, d), set()) - {key}]
    for record_digest in gone:
        yield _tombstone(f"{student}:{record_digest}", student, file.relative, {})
    for record_digest in previous:
        holders.get((student, record_digest), set()).discard(key)
    for record_digest in keys:
        holders.setdefault((student, record_digest), set()).add(key)
    ctx.stats.rows_upserted += upserted
    ctx.stats.rows_deleted += len(gone)
    ctx.state["files"][key] = {"sha256": digest, "keys": keys}


def read_inbox(
    spec: InboxSpec,
    suffixes: set[str],
    rows_for: Callable[[InboxFile, bytes, str, _Context], Iterator[dict[str, Any]]],
    ctx: _Context,
) -> Iterator[dict[str, Any]]:
    files_state = ctx.state.setdefault("files", {})
    previously_unassigned = set(ctx.state.get("unassigned", []))
    unassigned = set()
    files = discover(spec.inbox, suffixes, spec.students)
    ctx.stats.files_in_inbox = len(files)
    for file in files:
        if file.student_id is None:
            unassigned.add(file.relative)
            if file.relative not in previously_unassigned:
                ctx.quarantine.record("", file.relative, [unassigned_issue(file)])
            continue
        data = _read(file, ctx)
        if data is None:
            continue
        digest = sha256(data)
        if files_state.get(f"{file.student_id}:{file.relative}", {}).get("sha256") == digest:
            ctx.stats.files_unchanged += 1
            continue
        ctx.stats.files_read += 1
        yield from rows_for(file, data, digest, ctx)
    # An unassigned file that was renamed, moved into a student's folder or removed: its issue is void.
    for relative in sorted(previously_unassigned - unassigned):
        ctx.quarantine.record("", relative, [])
    ctx.state["unassigned"] = sorted(unassigned)
    ctx.stats.files_unassigned = len(unassigned)


def _extract(source_name: str, suffixes: set[str], spec: InboxSpec | None, quarantine: Any, loaded_at: Any,
             flush_quarantine: Any, stats: Any, rows_for: Any) -> Iterator[dict[str, Any]]:
    ctx = _Context(
        state=dlt.current.resource_state(),
        quarantine=quarantine if quarantine is not None else QuarantineBatch(source_name),
        loaded_at=loaded_at or dt.datetime.now(dt.timezone.utc),
        stats=stats if stats is not None else InboxStats(),
    )
    if spec is not None:
        yield from create_table_once(ctx.state)
        yield from read_inbox(spec, suffixes, rows_for, ctx)
    if flush_quarantine is not None:
        # Called once every file is read, before dlt loads; if the load then fails the state has not
        # moved, the rerun reads the same files and the flush (which replaces a file's rows) repeats.
        flush_quarantine(ctx.quarantine)


@dlt.source(name=BIBTEX_SOURCE, max_table_nesting=0)
def bibtex_source(inbox: Any = None, quarantine: Any = None, loaded_at: Any = None, flush_quarantine: Any = None,
                  stats: Any = None):
    """BibTeX files (.bib) in the reference inbox of the configured students."""

    @dlt.resource(
        name="bibtex_entries",
        table_name="bibtex_entries",
        primary_key="_natural_key",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=BIBTEX_COLUMNS,
    )
    def bibtex_entries() -> Iterator[dict[str, Any]]:
        """One row per BibTeX entry per file per student."""
        yield from _extract(BIBTEX_SOURCE, {".bib"}, inbox, quarantine, loaded_at, flush_quarantine, stats,
                            _bibtex_rows)

    return bibtex_entries


@dlt.source(name=RIS_SOURCE, max_table_nesting=0)
def ris_source(inbox: Any = None, quarantine: Any = None, loaded_at: Any = None, flush_quarantine: Any = None,
               stats: Any = None):
    """RIS files (.ris) in the reference inbox of the configured students."""

    @dlt.resource(
        name="ris_entries",
        table_name="ris_entries",
        primary_key="_natural_key",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=RIS_COLUMNS,
    )
    def ris_entries() -> Iterator[dict[str, Any]]:
        """One row per distinct RIS record per student."""
        state = dlt.current.resource_state()
        holders = _ris_holders(state.setdefault("files", {}))
        yield from _extract(RIS_SOURCE, {".ris"}, inbox, quarantine, loaded_at, flush_quarantine, stats,
                            lambda file, data, digest, ctx: _ris_rows(file, data, digest, ctx, holders))

    return ris_entries

