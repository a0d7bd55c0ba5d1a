"""Search over the current embedding set: pure vector, or hybrid (vector + Postgres full-text search
fused by reciprocal rank fusion). Used by `studentops search` and the tests.

Filters (course, student, kind) are applied inside the index scan. An HNSW scan stops after
`hnsw.ef_search` candidates, so a selective filter could leave fewer than k rows; pgvector 0.8's
iterative index scans (`hnsw.iterative_scan`) keep scanning until k rows pass the filter or
`hnsw.max_scan_tuples` is reached. If even that returns fewer rows than match the filter, the query is
repeated as an exact scan: a filter never silently returns fewer than k results when k matches exist.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np
from psycopg2 import sql

from resources.embedder import embed_with, identity_for
from studentops_assets.core.errors import StudentOpsError

from .sources import KIND_ALIASES
from .store import PRIVATE_KINDS, PUBLIC_KINDS, EmbeddingSet, current_set, ef_search_for

RRF_K = 60  # the constant of Cormack, Clarke & Buettcher (2009), used by most hybrid search engines
MODES = ("hybrid", "vector")
_WORD = re.compile(r"[\w][\w'\-]*")
_HIT_COLUMNS = ("chunk_id", "source_kind", "source_id", "source_title", "student_id", "course_code", "heading",
                "char_start", "char_end", "content")


@dataclass
class Hit:
    chunk_id: str
    source_kind: str
    source_id: str
    source_title: str | None
    student_id: str | None
    course_code: str | None
    heading: str | None
    char_start: int
    char_end: int
    content: str
    distance: float | None = None
    vector_rank: int | None = None
    text_rank: int | None = None
    score: float = 0.0

    @property
    def similarity(self) -> float | None:
        return None if self.distance is None else 1.0 - self.distance


@dataclass
class SearchResult:
    embedding_set: EmbeddingSet
    mode: str
    hits: list[Hit]
    # How the vector part was answered: "hnsw" (iterative scan) or "exact" (fallback for a filter
    # the index scan could not fill).
    strategy: str = "hnsw"
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def normalise_course(code: str | None) -> str | None:
    # Same rule as the dbt macro normalize_course_code: 'cs-101', 'Cs 101', 'CS101' -> 'CS101'.
    if code is None:
        return None
    return re.sub(r"[^A-Za-z0-9]", "", code).upper() or None


def _filters(course: str | None, student_id: str | None, kind: str | None) -> tuple[sql.Composable, list]:
    clauses, params = [sql.SQL("true")], []
    if course:
        clauses.append(sql.SQL("course_code = %s"))
        params.append(course)
    if student_id:
        from .sources import gold_student_id

        clauses.append(sql.SQL("student_id = %s"))
        params.append(gold_student_id(student_id))
    if kind:
        clauses.append(sql.SQL("source_kind = %s"))
        params.append(kind)
    return sql.SQL(" and ").join(clauses), params


def _tables(s: EmbeddingSet, kind: str | None) -> list[sql.Composed]:
    if kind is None:
        return [s.public_table, s.private_table]
    return [s.private_table] if kind in PRIVATE_KINDS else [s.public_table]


def _hit(row) -> Hit:
    return Hit(*row[: len(_HIT_COLUMNS)])


def vector_candidates(conn, s: EmbeddingSet, query: np.ndarray, limit: int, course=None, student_id=None,
                      kind=None, iterative: bool = True, exact: bool = False, prefer_index: bool = False) -> list[Hit]:
    """Up to `limit` nearest chunks that pass the filters, nearest first (one query per table).

    `prefer_index` keeps the planner off sequential scans: on small tables it would rather scan and
    sort (exact anyway), which hides how the HNSW scan behaves under a filter on big ones."""
    literal = "[" + ",".join(f"{x:.7g}" for x in query.tolist()) + "]"
    where, params = _filters(course, student_id, kind)
    cols = sql.SQL(", ").join(map(sql.Identifier, _HIT_COLUMNS))
    hits: list[Hit] = []
    with conn.cursor() as cur:
        for table in _tables(s, kind):
            # set_config(..., true): the settings last for this transaction only.
            try:
                cur.execute("select set_config('hnsw.ef_search', %s, true)", (str(ef_search_for(limit)),))
                cur.execute("select set_config('hnsw.iterative_scan', %s, true)",
                            ("relaxed_order" if iterative else "off",))
                if exact:
                    cur.execute("select set_config('enable_indexscan', 'off', true)")
                elif prefer_index:
                    cur.execute("select set_config('enable_seqscan', 'off', true)")
                cur.execute(sql.SQL(
                    "select {cols}, embedding <=> %s::vector as distance from {t} where {where} "
                    "order by embedding <=> %s::vector limit %s").format(cols=cols, t=table, where=where),
                    [literal, *params, literal, limit])
                rows = cur.fetchall()
            finally:
                conn.commit()
            for row in rows:
                hit = _hit(row)
                hit.distance = float(row[-1])
                hits.append(hit)
    # relaxed_order may return rows slightly out of order: sort by the distance itself.
    hits.sort(key=lambda h: (h.distance, h.chunk_id))
    return hits[:limit]


def count_matching(conn, s: EmbeddingSet, course=None, student_id=None, kind=None) -> int:
    where, params = _filters(course, student_id, kind)
    total = 0
    with conn.cursor() as cur:
        for table in _tables(s, kind):
            cur.execute(sql.SQL("select count(*) from {t} where {where}").format(t=table, where=where), params)
            total += cur.fetchone()[0]
    return total


def text_candidates(conn, s: EmbeddingSet, text: str, limit: int, course=None, student_id=None,
                    kind=None) -> list[Hit]:
    """Full-text matches, best first: any of the query's words (OR), ranked by ts_rank_cd, so chunks
    that contain more of the words, closer together, come first."""
    words = _WORD.findall(text)
    if not words:
        return []
    where, params = _filters(course, student_id, kind)
    cols = sql.SQL(", ").join(map(sql.Identifier, _HIT_COLUMNS))
    hits: list[tuple[float, Hit]] = []
    tsquery = ("(select string_agg('(' || plainto_tsquery('english', w)::text || ')', ' | ')::tsquery "
               "from unnest(%s::text[]) w where plainto_tsquery('english', w)::text <> '')")
    with conn.cursor() as cur:
        for table in _tables(s, kind):
            cur.execute(sql.SQL(
                "select {cols}, ts_rank_cd(content_tsv, q.query) as rank from {t}, " + tsquery + " as q(query) "
                "where content_tsv @@ q.query and {where} order by rank desc, chunk_id limit %s"
            ).format(cols=cols, t=table, where=where), [words, *params, limit])
            hits += [(float(row[-1]), _hit(row)) for row in cur.fetchall()]
    hits.sort(key=lambda pair: (-pair[0], pair[1].chunk_id))
    return [hit for _, hit in hits[:limit]]


def search(conn, text: str, k: int = 10, course: str | None = None, student_id: str | None = None,
           kind: str | None = None, mode: str = "hybrid", iterative: bool = True,
           embedding_set: EmbeddingSet | None = None, prefer_index: bool = False) -> SearchResult:
    started = time.perf_counter()
    if not text or not text.strip():
        raise StudentOpsError("the search text is empty")
    if k < 1:
        raise StudentOpsError("k must be at least 1")
    if mode not in MODES:
        raise StudentOpsError(f"unknown mode {mode!r}: choose {' or '.join(MODES)}")
    if kind is not None:
        if kind not in KIND_ALIASES:
            raise StudentOpsError(f"unknown kind {kind!r}: choose notes, materials or references")
        kind = KIND_ALIASES[kind]
    course = normalise_course(course)
    if conn.autocommit:
        conn.autocommit = False
    s = embedding_set or current_set(conn)
    if s is None:
        raise StudentOpsError("no embedding set yet: run `studentops materialize` (it builds ml/embedding_sets)")
    result = SearchResult(s, mode, [])
    if s.provider == "hashing":
        result.notes.append("hashing provider: lexical vectors, no language model")
    query = embed_with(identity_for(s.provider, s.model, s.dimension), [text])[0]
    pool = k if mode == "vector" else min(max(4 * k, 50), 1000)
    vector: list[Hit] = []
    if float(np.linalg.norm(query)) > 0:
        vector = vector_candidates(conn, s, query, pool, course, student_id, kind, iterative=iterative,
                                   prefer_index=prefer_index)
        if len(vector) < pool and (course or student_id or kind):
            matching = count_matching(conn, s, course, student_id, kind)
            if matching > len(vector):
                vector = vector_candidates(conn, s, query, pool, course, student_id, kind, exact=True)
                result.strategy = "exact"
    else:
        result.notes.append("the query has no word the lexical provider knows: full-text only")
    for rank, hit in enumerate(vector, start=1):
        hit.vector_rank = rank
    if mode == "vector":
        for hit in vector:
            hit.score = hit.similarity
        result.hits = vector[:k]
    else:
        fused: dict[str, Hit] = {hit.chunk_id: hit for hit in vector}
        for rank, hit in enumerate(text_candidates(conn, s, text, pool, course, student_id, kind), start=1):
            fused.setdefault(hit.chunk_id, hit).text_rank = rank
        for hit in fused.values():
            hit.score = sum(1.0 / (RRF_K + r) for r in (hit.vector_rank, hit.text_rank) if r is not None)
        ranked = sorted(fused.values(), key=lambda h: (-h.score, h.vector_rank or 10**9, h.chunk_id))
        result.hits = ranked[:k]
    result.seconds = time.perf_counter() - started
    return result


__all__ = ["Hit", "SearchResult", "search", "vector_candidates", "text_candidates", "count_matching",
           "normalise_course", "PUBLIC_KINDS", "MODES"]
