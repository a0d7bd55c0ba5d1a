"""What the warehouse already holds for Zotero: rows to retire, keys to check, quarantine to clear."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from resources.warehouse import WarehouseResource

from .config import LibrarySpec, StudentPlan
from .source import SOURCE, TABLE, RetiredRow


def _table_exists(cur) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f"raw.{TABLE}",))
    return bool(cur.fetchone()[0])


def retired_rows(warehouse: WarehouseResource, plans: Sequence[StudentPlan]) -> list[RetiredRow]:
    """Rows of students who now sync a different library than the one their rows came from."""
    libraries = [p.library for p in plans if p.library is not None]
    if not libraries:
        return []
    with warehouse.connection() as conn, conn.cursor() as cur:
        if not _table_exists(cur):
            return []
        cur.execute(
            f"""
            select z.student_id, z._natural_key, z.item_version
            from raw.{TABLE} z
            join unnest(%s::text[], %s::text[], %s::text[]) as c(student_id, library_type, library_id)
              using (student_id)
            where (z.library_type, z.library_id) is distinct from (c.library_type, c.library_id)
            """,
            (
                [lib.student_id for lib in libraries],
                [lib.library_type for lib in libraries],
                [lib.library_id for lib in libraries],
            ),
        )
        return [RetiredRow(s, k, int(v)) for s, k, v in cur.fetchall()]


def known_keys_reader(warehouse: WarehouseResource) -> Callable[[LibrarySpec], set[str]]:
    """Item keys raw.zotero_items holds for one student's library (asked on full reads only)."""

    def known_keys(library: LibrarySpec) -> set[str]:
        with warehouse.connection() as conn, conn.cursor() as cur:
            if not _table_exists(cur):
                return set()
            cur.execute(
                f"select item_key from raw.{TABLE} where student_id = %s and library_type = %s and library_id = %s",
                (library.student_id, library.library_type, library.library_id),
            )
            return {key for (key,) in cur.fetchall()}

    return known_keys


def quarantined_files(warehouse: WarehouseResource) -> frozenset[tuple[str, str]]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("select distinct student_id, file from meta.quarantine where source = %s", (SOURCE,))
        return frozenset((s, f) for s, f in cur.fetchall())
