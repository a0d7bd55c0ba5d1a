"""`search/chunks` (the chunker's output) and `ml/embedding_sets` (vectors in pgvector)."""


import time
from collections import Counter

import dagster as dg

from resources.embedder import Embedder, embed_with
from resources.warehouse import WarehouseResource

from .chunker import chunk_document, embedding_text
from .sources import read_documents, search_settings
from . import store

EMBED_BATCH = 256  # chunks per insert transaction: a crash loses at most one batch of work

SOURCE_DEPS = [
    dg.AssetKey(["staging", "stg_platform_materials"]),
    dg.AssetKey(["staging", "stg_platform_courses"]),
    dg.AssetKey(["staging", "stg_notes"]),
    dg.AssetKey(["raw", "notes"]),
    dg.AssetKey(["raw", "bibtex_entries"]),
    dg.AssetKey(["raw", "ris_entries"]),
    dg.AssetKey(["raw", "zotero_items"]),
    dg.AssetKey(["raw", "citation_cache"]),
]


@dg.asset(
    key=["search", "chunks"],
    group_name="search",
    kinds={"python", "postgres"},
    deps=SOURCE_DEPS,
    pool="search_chunks",
    description=(
        "Chunks of every platform material, every student's note (split by heading) and every reference "
        "abstract (Zotero abstractNote, BibTeX/RIS abstracts, OpenAlex abstracts rebuilt from "
        "abstract_inverted_index, Crossref abstracts without JATS tags): about 1000 characters with about "
        "200 overlap, on sentence and heading boundaries, with source, student, course, heading, character "
        "span, content hash and chunker version. Private (schema `search`): notes are the students' own."
    ),
)
def search_chunks(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = search_settings(warehouse.settings().home)
    chunker = settings.chunker
    with warehouse.connection() as conn:
        store.bootstrap(conn)
        documents = read_documents(conn)
        rows = []
        for doc in documents:
            for c in chunk_document(doc.source_kind, doc.source_id, doc.text, chunker, doc.title):
                rows.append((c.chunk_id, c.source_kind, c.source_id, doc.title, doc.student_id, doc.course_code,
                             c.heading, c.ordinal, c.char_start, c.char_end, c.content, c.content_hash,
                             chunker.version))
        from psycopg2.extras import execute_values

        with conn.cursor() as cur:
            # One transaction: readers see the old chunks or the new ones, never half.
            cur.execute("delete from search.chunks")
            execute_values(
                cur,
                "insert into search.chunks (chunk_id, source_kind, source_id, source_title, student_id, course_code, "
                "heading, ordinal, char_start, char_end, content, content_hash, chunker_version) values %s",
                rows, page_size=500,
            )
        conn.commit()
    docs_by_kind = Counter(d.source_kind for d in documents)
    chunks_by_kind = Counter(r[1] for r in rows)
    lengths = [r[9] - r[8] for r in rows]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(rows)),
            "chunker_version": dg.MetadataValue.text(chunker.version),
            "documents": dg.MetadataValue.json(dict(sorted(docs_by_kind.items()))),
            "chunks_by_kind": dg.MetadataValue.json(dict(sorted(chunks_by_kind.items()))),
            "mean_chunk_chars": dg.MetadataValue.float(round(sum(lengths) / len(lengths), 1) if lengths else 0.0),
            "max_chunk_chars": dg.MetadataValue.int(max(lengths, default=0)),
        }
    )


@dg.asset(
    key=["ml", "embedding_sets"],
    group_name="search",
    kinds={"python", "postgres", "pgvector"},
    deps=[dg.AssetKey(["search", "chunks"])],
    pool="search_embeddings",
    description=(
        "The current embedding set of the chunks in pgvector, with an HNSW index (cosine, m=16, "
        "ef_construction=64) and full-text search: ml.embedding_sets lists the sets (identity = provider "
        "+ model + dimension + chunker version), ml.document_chunks shows the current set's material and "
        "reference chunks to BI tools, ml.more_like_this(chunk_id, k) returns nearest chunks. Notes' chunks "
        "stay in the private schema `search`. Incremental by content hash; a new identity builds a new set "
        "beside the current one and search switches to it in one transaction when it is complete."
    ),
)
def embedding_sets(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   embedder: Embedder) -> dg.MaterializeResult:
    settings = search_settings(warehouse.settings().home)
    identity = embedder.identity(settings.provider)
    if identity.provider == "hashing":
        context.log.warning("embedding with the hashing provider: lexical vectors, no language model")
    with warehouse.connection() as conn:
        store.bootstrap(conn)
        with conn.cursor() as cur:
            cur.execute("select distinct chunker_version from search.chunks")
            versions = sorted(r[0] for r in cur.fetchall())
        if len(versions) > 1:
            raise dg.Failure(f"search.chunks holds chunks of several chunker versions: {versions}")
        version = versions[0] if versions else settings.chunker.version
        s = store.ensure_set(conn, identity, version)
        context.log.info(f"embedding {s.label} (status {s.status})")
        deleted, kept = store.sync_removals(conn, s)
        pending = store.pending_chunks(conn, s)
        embed_seconds = 0.0
        for start in range(0, len(pending), EMBED_BATCH):
            batch = pending[start:start + EMBED_BATCH]
            # columns: chunk_id, kind, source_id, source_title, student, course, heading, ..., content (10)
            texts = [embedding_text(row[3], row[6], row[10]) for row in batch]
            began = time.perf_counter()
            vectors = embed_with(identity, texts, embedder.batch_size)
            embed_seconds += time.perf_counter() - began
            store.insert_vectors(conn, s, batch, vectors)
            done = start + len(batch)
            context.log.info(f"embedded {done}/{len(pending)} chunks ({done / max(embed_seconds, 1e-9):.1f}/s)")
        store.ensure_indexes(conn, s)
        total = store.set_chunk_count(conn, s)
        switched, previous = store.activate(conn, s, total)
        rate = len(pending) / embed_seconds if pending and embed_seconds > 0 else None
        with conn.cursor() as cur:
            cur.execute(
                "insert into ml.embedding_runs (set_id, embedded, deleted, unchanged, embed_seconds, "
                "chunks_per_second, switched) values (%s, %s, %s, %s, %s, %s, %s)",
                (s.set_id, len(pending), deleted, kept, embed_seconds, rate, switched),
            )
        conn.commit()
    if switched:
        context.log.info(f"search now uses set {s.set_id} (was {previous or 'none'})")
    return dg.MaterializeResult(
        metadata={
            "set_id": dg.MetadataValue.text(s.set_id),
            "provider": dg.MetadataValue.text(identity.label),
            "model": dg.MetadataValue.text(identity.model),
            "dimension": dg.MetadataValue.int(identity.dimension),
            "chunker_version": dg.MetadataValue.text(version),
            "lexical_only": dg.MetadataValue.bool(identity.provider == "hashing"),
            "dagster/row_count": dg.MetadataValue.int(total),
            "embedded": dg.MetadataValue.int(len(pending)),
            "deleted": dg.MetadataValue.int(deleted),
            "unchanged": dg.MetadataValue.int(kept),
            "embed_seconds": dg.MetadataValue.float(round(embed_seconds, 2)),
            "chunks_per_second": dg.MetadataValue.float(round(rate, 1) if rate else 0.0),
            "switched": dg.MetadataValue.bool(switched),
            "previous_set": dg.MetadataValue.text(previous or ""),
            "hnsw": dg.MetadataValue.text(f"cosine, m={store.HNSW_M}, ef_construction={store.HNSW_EF_CONSTRUCTION}"),
        }
    )
