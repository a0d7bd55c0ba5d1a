"""The documents that get chunked and embedded, read from the warehouse.

- materials: `staging.stg_platform_materials.content`, with the course code of `stg_platform_courses`;
- notes: the body of each note in `raw.notes` (staging keeps no body), with the canonical course code
  of `staging.stg_notes`; private to their student;
- references: abstracts of the students' references — Zotero `abstractNote` (`raw.zotero_items`),
  BibTeX/RIS `abstract` fields (`raw.bibtex_entries`, `raw.ris_entries`), and the abstracts OpenAlex
  and Crossref return for cited DOIs (`raw.citation_cache._record`).

A table that does not exist yet (a source never configured) is skipped, not an error.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from studentops_assets.core.errors import StudentOpsError
from studentops_assets.core.settings import CONFIG_FILE

from .abstracts import citation_abstract, zotero_abstract
from .chunker import ChunkerSettings

KINDS = ("material", "note", "reference")
# The CLI's --kind takes the plural the issue uses.
KIND_ALIASES = {"materials": "material", "notes": "note", "references": "reference",
                "material": "material", "note": "note", "reference": "reference"}


def gold_student_id(raw_id: str | None) -> str | None:
    """The student's id as the gold layer has it (a uuid, whatever studentops.yaml says): the id itself
    when it is a uuid, else md5('studentops-student:' || id) read as a uuid, exactly as the dbt models
    map it, so chunks join marts.dim_students on student_id without a cast."""
    if not raw_id:
        return None
    try:
        return str(uuid.UUID(str(raw_id)))
    except ValueError:
        return str(uuid.UUID(hashlib.md5(f"studentops-student:{raw_id}".encode()).hexdigest()))


@dataclass(frozen=True)
class Document:
    source_kind: str
    source_id: str
    title: str | None
    text: str
    student_id: str | None
    course_code: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "student_id", gold_student_id(self.student_id))


@dataclass(frozen=True)
class SearchSettings:
    provider: str | None
    chunker: ChunkerSettings


def search_settings(home: Path) -> SearchSettings:
    """The `search:` mapping of studentops.yaml (provider, chunk_chars, overlap_chars); all optional."""
    path = home / CONFIG_FILE
    raw: dict[str, Any] = {}
    if path.exists():
        raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("search") or {}
    if not isinstance(raw, dict):
        raise StudentOpsError(f"{path}: `search` must be a mapping")
    try:
        chunker = ChunkerSettings(int(raw.get("chunk_chars", 1000)), int(raw.get("overlap_chars", 200)))
    except (TypeError, ValueError) as exc:
        raise StudentOpsError(f"{path}: search.chunk_chars / overlap_chars: {exc}") from None
    provider = raw.get("provider")
    return SearchSettings(str(provider) if provider else None, chunker)


def _exists(cur, relation: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (relation,))
    return bool(cur.fetchone()[0])


def _columns(cur, schema: str, table: str) -> set[str]:
    cur.execute("select column_name from information_schema.columns where table_schema = %s and table_name = %s",
                (schema, table))
    return {r[0] for r in cur.fetchall()}


def read_documents(conn) -> list[Document]:
    docs: list[Document] = []
    with conn.cursor() as cur:
        if _exists(cur, "staging.stg_platform_materials"):
            join = _exists(cur, "staging.stg_platform_courses")
            cur.execute(
                "select m.material_id::text, m.title, m.content, "
                + ("c.course_code " if join else "null ")
                + "from staging.stg_platform_materials m "
                + ("left join staging.stg_platform_courses c on c.course_id = m.course_id " if join else "")
                + "where m.content is not null and btrim(m.content) <> '' order by 1"
            )
            docs += [Document("material", i, t, text, None, code) for i, t, text, code in cur.fetchall()]
        if _exists(cur, "raw.notes") and "body" in _columns(cur, "raw", "notes"):
            staged = _exists(cur, "staging.stg_notes")
            cur.execute(
                "select distinct on (n._natural_key) n._natural_key, n.title, n.body, n.student_id, "
                + ("s.course_code " if staged else "nullif(upper(regexp_replace(n.course_code, '[^A-Za-z0-9]', '', 'g')), '') ")
                + "from raw.notes n "
                + ("left join staging.stg_notes s on s.note_key = n._natural_key " if staged else "")
                + "where n.body is not null and btrim(n.body) <> '' "
                "order by n._natural_key, n._loaded_at desc"
            )
            docs += [Document("note", k, t, body, sid, code) for k, t, body, sid, code in cur.fetchall()]
        for table, prefix in (("bibtex_entries", "bibtex"), ("ris_entries", "ris")):
            if _exists(cur, f"raw.{table}") and "abstract" in _columns(cur, "raw", table):
                cur.execute(
                    f"select distinct on (_natural_key) _natural_key, title, abstract, student_id from raw.{table} "
                    "where abstract is not null and btrim(abstract) <> '' order by _natural_key, _loaded_at desc"
                )
                docs += [Document("reference", f"{prefix}:{k}", t, a, sid, None) for k, t, a, sid in cur.fetchall()]
        if _exists(cur, "raw.zotero_items"):
            cols = _columns(cur, "raw", "zotero_items")
            if "_record" in cols:
                cur.execute(
                    "select distinct on (_natural_key) _natural_key, title, _record, student_id from raw.zotero_items "
                    "where coalesce(item_type, '') not in ('note', 'attachment', 'annotation') "
                    "order by _natural_key, item_version desc"
                )
                for key, title, record, sid in cur.fetchall():
                    abstract = zotero_abstract(record)
                    if abstract:
                        docs.append(Document("reference", f"zotero:{key}", title, abstract, sid, None))
        if _exists(cur, "raw.citation_cache") and "_record" in _columns(cur, "raw", "citation_cache"):
            cur.execute(
                "select distinct on (doi) doi, title, provider, _record from raw.citation_cache "
                "where resolved order by doi, fetched_at desc"
            )
            for doi, title, provider, record in cur.fetchall():
                abstract = citation_abstract(provider, record)
                if abstract:
                    docs.append(Document("reference", f"doi:{doi}", title, abstract, None, None))
    return docs
