"""dlt source for the notes vaults: `raw.notes`, one row per markdown note per student.

Change detection is by content hash, kept in dlt's resource state. dlt commits that state in the same
load as the rows, so a run that fails before loading leaves the state where it was and the rerun
re-reads exactly the files it had not loaded. Unchanged files are not re-yielded, so their rows
(and `_loaded_at`) stay as they were: a rerun on the same vault changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import dlt

from studentops_assets.core.dlt_support import create_table_once
from studentops_assets.core.quarantine import Issue, QuarantineBatch

from .vault_reader import parse_note

SOURCE = "vault"
NOTE_SUFFIXES = {".md", ".markdown"}

NOTES_COLUMNS: dict[str, dict[str, Any]] = {
    "_natural_key": {"data_type": "text", "nullable": False, "description": "student_id:path"},
    "student_id": {"data_type": "text", "nullable": False, "description": "Configured student (platform users.id)"},
    "path": {"data_type": "text", "nullable": False, "description": "Path of the note inside the student's vault"},
    "title": {"data_type": "text", "description": "frontmatter title, else first H1, else file name"},
    "note_type": {"data_type": "text", "description": "frontmatter type, else inferred from the folder"},
    "course_code": {"data_type": "text", "description": "Course as written in frontmatter (normalised in staging)"},
    "due_date": {"data_type": "date", "description": "frontmatter due (assessments)"},
    "weight_pct": {"data_type": "double", "description": "frontmatter weight in percent (assessments)"},
    "status": {"data_type": "text", "description": "frontmatter status, lowercased"},
    "source_updated_at": {"data_type": "timestamp", "description": "frontmatter updated, in UTC"},
    "tags": {"data_type": "json", "description": "frontmatter tags plus inline #tags"},
    "wikilinks": {"data_type": "json", "description": "[[wikilink]] targets"},
    "dois": {"data_type": "json", "description": "DOIs cited in the note, normalised"},
    "word_count": {"data_type": "bigint", "description": "Words in the body outside code fences"},
    "frontmatter": {"data_type": "json", "description": "The full frontmatter as parsed"},
    "body": {"data_type": "text", "description": "Markdown body without the frontmatter"},
    "modified_at": {"data_type": "timestamp", "description": "File modification time (UTC)"},
    "content_sha256": {"data_type": "text", "description": "Version marker: sha256 of the file bytes"},
    "_source": {"data_type": "text", "description": "Always 'vault'"},
    "_loaded_at": {"data_type": "timestamp", "description": "When the run that loaded this version started"},
    "_deleted": {"data_type": "bool", "hard_delete": True, "description": "Tombstone: removes the row"},
}


@dataclass(frozen=True)
class VaultSpec:
    student_id: str
    root: Path
    timezone: str


def discover_notes(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        # .obsidian/ (app settings) and .trash/ are not notes.
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in NOTE_SUFFIXES:
            found.append(path)
    return sorted(found)


def read_vault(
    vaults: Sequence[VaultSpec],
    seen: dict[str, str],
    quarantine: QuarantineBatch,
    loaded_at: dt.datetime,
) -> Iterator[dict[str, Any]]:
    """Yield rows for new and changed notes and tombstones for deleted ones; update `seen` in place."""
    present: set[str] = set()
    for vault in vaults:
        tz = ZoneInfo(vault.timezone)
        for path in discover_notes(vault.root):
            relative = PurePosixPath(path.relative_to(vault.root).as_posix())
            key = f"{vault.student_id}:{relative}"
            present.add(key)
            try:
                data = path.read_bytes()
                mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc)
            except OSError as exc:
                quarantine.record(vault.student_id, str(relative), [Issue("file", f"cannot read: {exc.strerror}")])
                continue
            digest = hashlib.sha256(data).hexdigest()
            if seen.get(key) == digest:
                continue
            parsed = parse_note(data, relative, mtime, tz)
            quarantine.record(vault.student_id, str(relative), parsed.issues)
            seen[key] = digest
            if parsed.row is None:
                # Unloadable now: an earlier good version, if any, stays in raw.notes.
                continue
            yield {
                "_natural_key": key,
                "student_id": vault.student_id,
                **parsed.row,
                "_source": SOURCE,
                "_loaded_at": loaded_at,
                "_deleted": False,
            }
    configured = {v.student_id for v in vaults}
    for key in sorted(set(seen) - present):
        student_id, _, relative = key.partition(":")
        if student_id not in configured:
            # A student removed from the config keeps their rows; only files that vanished are deleted.
            continue
        del seen[key]
        quarantine.record(student_id, relative, [])
        yield {"_natural_key": key, "student_id": student_id, "path": relative, "_deleted": True}


@dlt.source(name=SOURCE, max_table_nesting=0)
def vault_source(vaults: Any = (), quarantine: Any = None, loaded_at: Any = None, flush_quarantine: Any = None):
    """Markdown notes vaults of the configured students.

    `flush_quarantine(batch)` is called once extraction has read every file, before dlt loads: if the
    load then fails, dlt's file state has not moved, the rerun reads the same files again and the
    flush (which replaces a file's rows) is simply repeated.
    """

    @dlt.resource(
        name="notes",
        table_name="notes",
        primary_key="_natural_key",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=NOTES_COLUMNS,
    )
    def notes() -> Iterator[dict[str, Any]]:
        """One row per markdown note per student: frontmatter fields, links, DOIs, word count."""
        state = dlt.current.resource_state()
        yield from create_table_once(state)
        seen = state.setdefault("files", {})
        batch = quarantine if quarantine is not None else QuarantineBatch(SOURCE)
        yield from read_vault(vaults, seen, batch, loaded_at or dt.datetime.now(dt.timezone.utc))
        if flush_quarantine is not None:
            flush_quarantine(batch)

    return notes
