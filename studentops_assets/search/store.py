"""Embedding sets in pgvector: one pair of tables per set, a registry, and one current set.

A set's identity is provider + model + dimension + chunker version; its id is a short hash of that
identity. Vectors of two sets never share a table or an index:
- `ml.embeddings_<set>`: chunks of materials and references with their vectors (BI readable: the BI
  role reads every table in `ml`);
- `search.note_embeddings_<set>`: chunks of the students' private notes (schema `search`, which the BI
  role cannot use at all).
Both have an HNSW index (cosine, m=16, ef_construction=64) and a GIN index on a generated tsvector.

`ml.embedding_sets` lists the sets; exactly one has status `current`. A new set is built beside the
current one (status `building`), and only when all its chunks are embedded and indexed does one
transaction make it current, demote the old one to `previous` and point the views
(`ml.document_chunks`, `search.note_chunks`) at it. Sets older than the previous one are dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from psycopg2 import sql

from resources.embedder import EmbedderIdentity

PUBLIC_KINDS = ("material", "reference")
PRIVATE_KINDS = ("note",)
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
# Candidates the HNSW scan keeps for a k-nearest query (hnsw.ef_search). pgvector's default, 40, gave
# recall@10 0.66 on 103k scaled chunks in `studentops bench`; 100 gave 0.84 with p95 still under 12 ms
# (docs/benchmarks.md): recall is worth the two milliseconds.
EF_SEARCH_MIN = 100


def ef_search_for(limit: int) -> int:
    """hnsw.ef_search for a query that wants `limit` rows: never below EF_SEARCH_MIN, at most 1,000
    (pgvector's maximum)."""
    return min(max(limit, EF_SEARCH_MIN), 1000)
TSV_CONFIG = "english"

BOOTSTRAP = """
create schema if not exists search;
create schema if not exists ml;
create table if not exists search.chunks (
    chunk_id text primary key,
    source_kind text not null check (source_kind in ('material', 'note', 'reference')),
    source_id text not null,
    source_title text,
    student_id uuid,
    course_code text,
    heading text,
    ordinal integer not null,
    char_start integer not null,
    char_end integer not null,
    content text not null,
    content_hash text not null,
    chunker_version text not null,
    chunked_at timestamptz not null default now()
);
create index if not exists chunks_source_idx on search.chunks (source_kind, source_id);
create table if not exists ml.embedding_sets (
    set_id text primary key,
    provider text not null,
    model text not null,
    dimension integer not null,
    chunker_version text not null,
    lexical_only boolean not null,
    status text not null check (status in ('building', 'current', 'previous', 'dropped')),
    public_table text not null,
    private_table text not null,
    chunks integer,
    recall_at_10 double precision,
    created_at timestamptz not null default now(),
    completed_at timestamptz,
    activated_at timestamptz,
    unique (provider, model, dimension, chunker_version)
);
create unique index if not exists embedding_sets_one_current on ml.embedding_sets (status) where status = 'current';
create table if not exists ml.embedding_runs (
    run_at timestamptz not null default now(),
    set_id text not null,
    embedded integer not null,
    deleted integer not null,
    unchanged integer not null,
    embed_seconds double precision not null,
    chunks_per_second double precision,
    switched boolean not null
);
"""


@dataclass(frozen=True)
class EmbeddingSet:
    set_id: str
    provider: str
    model: str
    dimension: int
    chunker_version: str
    status: str

    @property
    def identity(self) -> EmbedderIdentity:
        return EmbedderIdentity(self.provider, self.model, self.dimension)

    @property
    def public_table(self) -> sql.Composed:
        return sql.SQL("ml.{}").format(sql.Identifier(f"embeddings_{self.set_id}"))

    @property
    def private_table(self) -> sql.Composed:
        return sql.SQL("search.{}").format(sql.Identifier(f"note_embeddings_{self.set_id}"))

    def table_for(self, kind: str) -> sql.Composed:
        return self.private_table if kind in PRIVATE_KINDS else self.public_table

    def tables(self) -> list[tuple[sql.Composed, tuple[str, ...]]]:
        return [(self.public_table, PUBLIC_KINDS), (self.private_table, PRIVATE_KINDS)]

    @property
    def label(self) -> str:
        return f"set {self.set_id}: {self.identity.label}, chunker {self.chunker_version}"


def set_id_for(identity: EmbedderIdentity, chunker_version: str) -> str:
    key = f"{identity.provider}\x1f{identity.model}\x1f{identity.dimension}\x1f{chunker_version}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def bootstrap(conn) -> None:
    with conn.cursor() as cur:
        # Two steps creating the same schema at once would race in `create ... if not exists`.
        cur.execute("select pg_advisory_xact_lock(hashtext('studentops.search.bootstrap'))")
        cur.execute(BOOTSTRAP)
    conn.commit()


_COLUMNS = ("chunk_id", "source_kind", "source_id", "source_title", "student_id", "course_code", "heading",
            "ordinal", "char_start", "char_end", "content", "content_hash", "chunker_version")


def _create_set_table(cur, table: sql.Composed, dimension: int) -> None:
    cur.execute(sql.SQL("""
        create table if not exists {table} (
            chunk_id text primary key,
            source_kind text not null,
            source_id text not null,
            source_title text,
            student_id uuid,
            course_code text,
            heading text,
            ordinal integer not null,
            char_start integer not null,
            char_end integer not null,
            content text not null,
            content_hash text not null,
            chunker_version text not null,
            embedding vector({dim}) not null,
            embedded_at timestamptz not null default now(),
            content_tsv tsvector generated always as (
                setweight(to_tsvector('english', coalesce(source_title, '') || ' ' || coalesce(heading, '')), 'A')
                || setweight(to_tsvector('english', content), 'B')
                || to_tsvector('simple', coalesce(course_code, ''))
            ) stored
        )""").format(table=table, dim=sql.Literal(dimension)))


def ensure_set(conn, identity: EmbedderIdentity, chunker_version: str) -> EmbeddingSet:
    """The set of this identity, created (status `building`, empty tables) if it does not exist."""
    set_id = set_id_for(identity, chunker_version)
    s = EmbeddingSet(set_id, identity.provider, identity.model, identity.dimension, chunker_version, "building")
    with conn.cursor() as cur:
        cur.execute(
            "insert into ml.embedding_sets (set_id, provider, model, dimension, chunker_version, lexical_only, "
            "status, public_table, private_table) values (%s, %s, %s, %s, %s, %s, 'building', %s, %s) "
            "on conflict (set_id) do update set status = case when ml.embedding_sets.status = 'dropped' "
            "then 'building' else ml.embedding_sets.status end returning status",
            (set_id, identity.provider, identity.model, identity.dimension, chunker_version,
             identity.provider == "hashing", f"ml.embeddings_{set_id}", f"search.note_embeddings_{set_id}"),
        )
        status = cur.fetchone()[0]
        for table, _ in s.tables():
            _create_set_table(cur, table, identity.dimension)
    conn.commit()
    return EmbeddingSet(set_id, identity.provider, identity.model, identity.dimension, chunker_version, status)


def current_set(conn) -> EmbeddingSet | None:
    with conn.cursor() as cur:
        cur.execute("select to_regclass('ml.embedding_sets') is not null")
        if not cur.fetchone()[0]:
            return None
        cur.execute("select set_id, provider, model, dimension, chunker_version, status from ml.embedding_sets "
                    "where status = 'current'")
        row = cur.fetchone()
    return EmbeddingSet(*row) if row else None


def sync_removals(conn, s: EmbeddingSet) -> tuple[int, int]:
    """Delete chunks no longer produced by the chunker (deleted or changed sources); refresh the
    metadata of kept chunks (a course code may change without the text changing).
    Returns (deleted, kept)."""
    deleted = kept = 0
    with conn.cursor() as cur:
        for table, kinds in s.tables():
            cur.execute(sql.SQL(
                "delete from {t} e where not exists (select 1 from search.chunks c where c.chunk_id = e.chunk_id "
                "and c.source_kind = any(%s))").format(t=table), (list(kinds),))
            deleted += cur.rowcount
            cur.execute(sql.SQL(
                "update {t} e set student_id = c.student_id, course_code = c.course_code, "
                "source_title = c.source_title from search.chunks c where c.chunk_id = e.chunk_id and "
                "(e.student_id, e.course_code, e.source_title) is distinct from "
                "(c.student_id, c.course_code, c.source_title)").format(t=table))
            cur.execute(sql.SQL("select count(*) from {t}").format(t=table))
            kept += cur.fetchone()[0]
    conn.commit()
    return deleted, kept


def pending_chunks(conn, s: EmbeddingSet) -> list[tuple]:
    """Chunks of the chunker's output that this set has no vector for yet."""
    out: list[tuple] = []
    with conn.cursor() as cur:
        for table, kinds in s.tables():
            cur.execute(sql.SQL(
                "select {cols} from search.chunks c where c.source_kind = any(%s) and c.chunker_version = %s "
                "and not exists (select 1 from {t} e where e.chunk_id = c.chunk_id) order by c.chunk_id"
            ).format(cols=sql.SQL(", ").join(sql.SQL("c.") + sql.Identifier(c) for c in _COLUMNS), t=table),
                (list(kinds), s.chunker_version))
            out += cur.fetchall()
    return out


def insert_vectors(conn, s: EmbeddingSet, rows: list[tuple], vectors) -> None:
    from psycopg2.extras import execute_values

    by_table: dict[str, list[tuple]] = {}
    for row, vector in zip(rows, vectors):
        literal = "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"
        kind = row[1]
        by_table.setdefault(kind in PRIVATE_KINDS, []).append((*row, literal))
    with conn.cursor() as cur:
        for private, values in by_table.items():
            table = s.private_table if private else s.public_table
            execute_values(
                cur,
                sql.SQL("insert into {t} ({cols}, embedding) values %s on conflict (chunk_id) do nothing").format(
                    t=table, cols=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))).as_string(cur),
                values,
                template="(" + ", ".join(["%s"] * len(_COLUMNS)) + ", %s::vector)",
                page_size=200,
            )
    conn.commit()


def ensure_indexes(conn, s: EmbeddingSet) -> None:
    with conn.cursor() as cur:
        for table, _ in s.tables():
            name = table.seq[-1].strings[-1]  # the table's name (its Identifier)
            cur.execute(sql.SQL(
                "create index if not exists {idx} on {t} using hnsw (embedding vector_cosine_ops) "
                "with (m = {m}, ef_construction = {ef})").format(
                idx=sql.Identifier(f"{name}_hnsw"), t=table, m=sql.Literal(HNSW_M), ef=sql.Literal(HNSW_EF_CONSTRUCTION)))
            cur.execute(sql.SQL("create index if not exists {idx} on {t} using gin (content_tsv)").format(
                idx=sql.Identifier(f"{name}_tsv"), t=table))
            # No index on source_kind (three values): the planner should use the HNSW index and filter.
            for column in ("course_code", "student_id"):
                cur.execute(sql.SQL("create index if not exists {idx} on {t} ({c})").format(
                    idx=sql.Identifier(f"{name}_{column}"), t=table, c=sql.Identifier(column)))
    conn.commit()


_VIEW_COLUMNS = ("chunk_id, source_kind, source_id, source_title, student_id, course_code, heading, ordinal, "
                 "char_start, char_end, content, content_hash, chunker_version, embedding, embedded_at, content_tsv")

# "More like this" for BI tools: the nearest chunks (materials and references) of a given chunk in
# the current set. plpgsql, so that it follows the view to whichever set is current; the invoker's
# rights apply (the BI role reads ml.document_chunks). Iterative index scans keep the answer at k rows
# even though the chunk itself (and, with p_kind, other kinds) are filtered out of the index scan.
MORE_LIKE_THIS = """
create or replace function ml.more_like_this(p_chunk_id text, p_k integer default 10, p_kind text default null)
returns table (chunk_id text, source_kind text, source_id text, source_title text, course_code text,
               heading text, content text, similarity double precision)
language plpgsql stable
set hnsw.iterative_scan = 'relaxed_order'
as $fn$
declare
    q vector;
begin
    select d.embedding into q from ml.document_chunks d where d.chunk_id = p_chunk_id;
    if q is null then
        raise exception 'no chunk % in the current embedding set (ml.document_chunks)', p_chunk_id
            using errcode = 'no_data_found';
    end if;
    return query
    with nearest as materialized (
        select d.chunk_id, d.source_kind, d.source_id, d.source_title, d.course_code, d.heading, d.content,
               d.embedding <=> q as distance
        from ml.document_chunks d
        where d.chunk_id <> p_chunk_id and (p_kind is null or d.source_kind = p_kind)
        order by d.embedding <=> q
        limit greatest(p_k, 0)
    )
    select n.chunk_id, n.source_kind, n.source_id, n.source_title, n.course_code, n.heading, n.content,
           1 - n.distance
    from nearest n order by n.distance;
end
$fn$;
comment on function ml.more_like_this(text, integer, text) is
    'Nearest chunks (materials and references) of a chunk of ml.document_chunks, by cosine similarity, in the current embedding set.';
"""


def point_views(cur, s: EmbeddingSet) -> None:
    """Views over the current set (drop + create: a new set may have another dimension)."""
    cur.execute("drop view if exists ml.document_chunks cascade")
    cur.execute(sql.SQL("create view ml.document_chunks as select {cols}, {sid} as set_id from {t}").format(
        cols=sql.SQL(_VIEW_COLUMNS), sid=sql.Literal(s.set_id), t=s.public_table))
    cur.execute("comment on view ml.document_chunks is 'Chunks of platform materials and reference abstracts "
                "with their vectors, in the current embedding set (see ml.embedding_sets).'")
    cur.execute("drop view if exists search.note_chunks")
    cur.execute(sql.SQL("create view search.note_chunks as select {cols}, {sid} as set_id from {t}").format(
        cols=sql.SQL(_VIEW_COLUMNS), sid=sql.Literal(s.set_id), t=s.private_table))
    cur.execute(MORE_LIKE_THIS)


def activate(conn, s: EmbeddingSet, chunks: int) -> tuple[bool, str | None]:
    """Make `s` current in one transaction (idempotent). Returns (switched, previous set id)."""
    with conn.cursor() as cur:
        cur.execute("lock table ml.embedding_sets in exclusive mode")
        cur.execute("select set_id from ml.embedding_sets where status = 'current'")
        row = cur.fetchone()
        previous = row[0] if row else None
        switched = previous != s.set_id
        if switched:
            cur.execute("update ml.embedding_sets set status = 'dropped' where status = 'previous' and set_id <> %s",
                        (s.set_id,))
            cur.execute("update ml.embedding_sets set status = 'previous' where status = 'current'")
            cur.execute("update ml.embedding_sets set status = 'current', activated_at = now() where set_id = %s",
                        (s.set_id,))
        cur.execute("update ml.embedding_sets set chunks = %s, completed_at = coalesce(completed_at, now()) "
                    "where set_id = %s", (chunks, s.set_id))
        point_views(cur, s)
        # Sets older than the previous one: their tables go (the registry keeps the row as history).
        cur.execute("select set_id from ml.embedding_sets where status = 'dropped'")
        for (old,) in cur.fetchall():
            cur.execute(sql.SQL("drop table if exists {} , {}").format(
                sql.SQL("ml.{}").format(sql.Identifier(f"embeddings_{old}")),
                sql.SQL("search.{}").format(sql.Identifier(f"note_embeddings_{old}"))))
    conn.commit()
    return switched, previous


def set_chunk_count(conn, s: EmbeddingSet) -> int:
    with conn.cursor() as cur:
        total = 0
        for table, _ in s.tables():
            cur.execute(sql.SQL("select count(*) from {}").format(table))
            total += cur.fetchone()[0]
    return total
