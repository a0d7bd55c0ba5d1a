"""dlt source for the students' Zotero libraries: `raw.zotero_items`, one row per item per student.

The cursor is each library's version, kept per student+library in dlt's resource state. dlt commits
that state in the same load as the rows, and it only moves when a library was read completely: a run
that fails part way (while paging, or while loading) leaves it where it was, and the rerun reads the
same range again. Rows read twice are merged on `_natural_key`, with the highest item version kept when
one load holds a key twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import dlt

from studentops_assets.core.dlt_support import create_table_once

from studentops_assets.core.quarantine import Issue, QuarantineBatch
from studentops_assets.core.settings import CONFIG_FILE

from .client import ZoteroClient, ZoteroError, ZoteroRefused
from .config import LibrarySpec, StudentPlan
from .items import extract_item
from .sync import KeyDeleted, LibraryOutcome, LibraryReader

SOURCE = "zotero"
TABLE = "zotero_items"

ZOTERO_ITEMS_COLUMNS: dict[str, dict[str, Any]] = {
    "_natural_key": {"data_type": "text", "nullable": False, "description": "student_id:library path:item key"},
    "student_id": {"data_type": "text", "nullable": False, "description": "Configured student (platform users.id)"},
    "library_type": {"data_type": "text", "description": "'user' or 'group'"},
    "library_id": {"data_type": "text", "description": "Zotero library ID"},
    "item_key": {"data_type": "text", "description": "Zotero item key (8 characters)"},
    "item_version": {
        "data_type": "bigint",
        "nullable": False,
        "dedup_sort": "desc",
        "description": "Version marker: the item's Zotero version (for tombstones, the library version that reported the deletion)",
    },
    "item_type": {"data_type": "text", "description": "itemType: journalArticle, book, note, attachment, ..."},
    "title": {"data_type": "text", "description": "title (or caseName/nameOfAct/subject); a note's first line"},
    "doi": {"data_type": "text", "description": "DOI from the DOI field or a 'DOI:' line in Extra, normalised"},
    "date_raw": {"data_type": "text", "description": "date as typed in Zotero (free text)"},
    "year": {"data_type": "bigint", "description": "Year of `date` (Zotero's meta.parsedDate first)"},
    "creators": {"data_type": "json", "description": "creators as Zotero has them (creatorType, names)"},
    "tags": {"data_type": "json", "description": "Tag strings"},
    "collections": {"data_type": "json", "description": "Keys of the collections holding the item"},
    "parent_item": {"data_type": "text", "description": "Parent item key of a note or attachment"},
    "note": {"data_type": "text", "description": "Text of a note item (HTML removed)"},
    "url": {"data_type": "text", "description": "url field"},
    "date_added": {"data_type": "timestamp", "description": "dateAdded (UTC)"},
    "date_modified": {"data_type": "timestamp", "description": "dateModified (UTC)"},
    "_record": {"data_type": "json", "description": "The item's full `data` object as the API returned it"},
    "_source": {"data_type": "text", "description": "Always 'zotero'"},
    "_loaded_at": {"data_type": "timestamp", "description": "When the run that loaded this version started"},
    "_deleted": {"data_type": "bool", "hard_delete": True, "description": "Tombstone: removes the row"},
}


@dataclass(frozen=True)
class RetiredRow:
    """A row of a library the student no longer has configured (they switched libraries)."""

    student_id: str
    natural_key: str
    item_version: int


@dataclass
class SyncReport:
    """Filled during extraction, read by the asset for its metadata."""

    outcomes: dict[str, LibraryOutcome] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    tombstones: dict[str, int] = field(default_factory=dict)
    retired: int = 0


def natural_key(library: LibrarySpec, item_key: str) -> str:
    return f"{library.cursor_id}:{item_key}"


def _tombstone(student_id: str, key: str, version: int) -> dict[str, Any]:
    return {"_natural_key": key, "student_id": student_id, "item_version": version, "_deleted": True}


KnownKeys = Callable[[LibrarySpec], "set[str]"]


@dataclass
class Quarantine:
    """The run's QuarantineBatch plus the (student_id, file) pairs meta.quarantine already holds.

    A file is only re-recorded with no issues when it has rows to clear: a first sync of a large
    library would otherwise flush one delete per item.
    """

    batch: QuarantineBatch
    held: frozenset[tuple[str, str]] = frozenset()

    def record(self, student_id: str, file: str, issues: list[Issue]) -> None:
        # Also when this run recorded the file already: a later read of the item wins.
        if issues or (student_id, file) in self.held or (student_id, file) in self.batch.files:
            self.batch.record(student_id, file, issues)

    def add(self, student_id: str, file: str, issues: list[Issue]) -> None:
        """For records without a key, which share their library's `<path>/items` file."""
        self.batch.record(student_id, file, self.batch.files.get((student_id, file), []) + issues)


def _sync_library(
    client: ZoteroClient,
    library: LibrarySpec,
    cursors: dict[str, Any],
    known_keys: KnownKeys,
    quarantine: Quarantine,
    loaded_at: dt.datetime,
    report: SyncReport,
) -> Iterator[dict[str, Any]]:
    since = cursors.get(library.cursor_id, {}).get("version")
    reader = LibraryReader(client, library, since, lambda: known_keys(library))
    rows = tombstones = 0
    try:
        for change in reader.changes():
            if isinstance(change, KeyDeleted):
                tombstones += 1
                quarantine.record(library.student_id, f"{library.path}/items/{change.key}", [])
                yield _tombstone(library.student_id, natural_key(library, change.key), change.library_version)
                continue
            extracted = extract_item(change.item)
            if extracted.row is None:
                issues = [Issue(f"{change.where} {i.location}", i.reason, i.snippet) for i in extracted.issues]
                if extracted.key:
                    quarantine.record(library.student_id, f"{library.path}/items/{extracted.key}", issues)
                else:
                    quarantine.add(library.student_id, f"{library.path}/items", issues)
                continue
            key = natural_key(library, extracted.key)
            file = f"{library.path}/items/{extracted.key}"
            if extracted.trashed:
                # In the trash: gone from the table, and so are its problems.
                quarantine.record(library.student_id, file, [])
                tombstones += 1
                yield _tombstone(library.student_id, key, extracted.version)
                continue
            quarantine.record(library.student_id, file, extracted.issues)
            rows += 1
            yield {
                "_natural_key": key,
                "student_id": library.student_id,
                "library_type": library.library_type,
                "library_id": library.library_id,
                **extracted.row,
                "_source": SOURCE,
                "_loaded_at": loaded_at,
                "_deleted": False,
            }
    except ZoteroError as exc:
        # Rows already yielded load (merge makes the rerun's second copy harmless); the cursor stays.
        reader.outcome.status = "refused" if isinstance(exc, ZoteroRefused) else "failed"
        reader.outcome.version_after = since
        reader.outcome.error = str(exc)
        if isinstance(exc, ZoteroRefused):
            quarantine.record(library.student_id, library.path, [Issue("API", str(exc))])
    else:
        quarantine.record(library.student_id, library.path, [])
        if reader.outcome.status == "synced":
            cursors[library.cursor_id] = {"version": reader.outcome.version_after}
    report.outcomes[library.cursor_id] = reader.outcome
    report.rows[library.cursor_id] = rows
    report.tombstones[library.cursor_id] = tombstones


def read_libraries(
    plans: Sequence[StudentPlan],
    client: ZoteroClient | None,
    cursors: dict[str, Any],
    retired: Sequence[RetiredRow],
    known_keys: KnownKeys,
    quarantine: Quarantine,
    loaded_at: dt.datetime,
    report: SyncReport,
) -> Iterator[dict[str, Any]]:
    for plan in plans:
        # Re-evaluated every run, so fixing the YAML clears the student's config issues.
        quarantine.record(plan.student_id, CONFIG_FILE, list(plan.issues))
    synced = [p.library for p in plans if p.library is not None]
    current = {lib.student_id: lib.cursor_id for lib in synced}
    for cursor_id in sorted(cursors):
        student_id = cursor_id.rpartition(":")[0]  # cursor ids are "<student_id>:<users|groups>/<id>"
        if student_id in current and current[student_id] != cursor_id:
            del cursors[cursor_id]
    for row in retired:
        if row.student_id in current and not row.natural_key.startswith(current[row.student_id] + ":"):
            report.retired += 1
            yield _tombstone(row.student_id, row.natural_key, row.item_version)
    for library in synced:
        yield from _sync_library(client, library, cursors, known_keys, quarantine, loaded_at, report)


@dlt.source(name=SOURCE, max_table_nesting=0)
def zotero_source(
    plans: Any = (),
    client: Any = None,
    retired: Any = (),
    known_keys: Any = None,
    quarantine: Any = None,
    quarantined_files: Any = None,
    loaded_at: Any = None,
    flush_quarantine: Any = None,
    report: Any = None,
):
    """The configured students' Zotero libraries.

    `quarantined_files` are the (student_id, file) pairs meta.quarantine holds for this source, the
    ones a clean read must clear. `known_keys(library)` returns the item keys `raw.zotero_items` holds for a library: a full read
    (no cursor yet) removes those the library no longer lists. `flush_quarantine(batch)` runs once
    every library was read, before dlt loads; a failed load leaves the cursors where they were, so
    the rerun reads the same items and repeats the flush.
    """

    @dlt.resource(
        name=TABLE,
        table_name=TABLE,
        primary_key="_natural_key",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=ZOTERO_ITEMS_COLUMNS,
    )
    def zotero_items() -> Iterator[dict[str, Any]]:
        """One row per Zotero item per student: type, title, DOI, date, creators, tags, collections."""
        state = dlt.current.resource_state()
        yield from create_table_once(state)
        cursors = state.setdefault("libraries", {})
        batch = quarantine if quarantine is not None else QuarantineBatch(SOURCE)
        yield from read_libraries(
            plans,
            client,
            cursors,
            retired,
            known_keys if known_keys is not None else (lambda library: set()),
            Quarantine(batch, frozenset(quarantined_files or ())),
            loaded_at or dt.datetime.now(dt.timezone.utc),
            report if report is not None else SyncReport(),
        )
        if flush_quarantine is not None:
            flush_quarantine(batch)

    return zotero_items
