"""Checks of the current embedding set: coverage, index recall, dimension and count."""


import dagster as dg
from psycopg2 import sql

from resources.warehouse import WarehouseResource

from .sources import read_documents
from .store import current_set, ef_search_for

EMBEDDING_SETS = dg.AssetKey(["ml", "embedding_sets"])
RECALL_SAMPLE = 50
RECALL_K = 10
RECALL_MIN = 0.95


def _no_set() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"reason": "no current embedding set"})


@dg.asset_check(
    asset=EMBEDDING_SETS,
    description=(
        "Coverage: every material, note and reference abstract in the warehouse has at least one chunk "
        "with a vector in the current embedding set (an embedding job that failed silently fails this)."
    ),
)
def embedding_coverage(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        return coverage(conn)


def coverage(conn) -> dg.AssetCheckResult:
    s = current_set(conn)
    if s is None:
        return _no_set()
    documents = read_documents(conn)
    covered: set[tuple[str, str]] = set()
    with conn.cursor() as cur:
        for table, _ in s.tables():
            cur.execute(sql.SQL("select distinct source_kind, source_id from {}").format(table))
            covered |= set(cur.fetchall())
    missing = [(d.source_kind, d.source_id) for d in documents if (d.source_kind, d.source_id) not in covered]
    by_kind: dict[str, dict[str, int]] = {}
    for d in documents:
        entry = by_kind.setdefault(d.source_kind, {"documents": 0, "missing": 0})
        entry["documents"] += 1
    for kind, _ in missing:
        by_kind[kind]["missing"] += 1
    share = 1.0 - len(missing) / len(documents) if documents else 1.0
    return dg.AssetCheckResult(
        passed=not missing,
        metadata={
            "set_id": s.set_id,
            "documents": len(documents),
            "missing": len(missing),
            "coverage": dg.MetadataValue.float(round(share, 4)),
            "by_kind": dg.MetadataValue.json(by_kind),
            # Ids only (no text): note ids are student_id:path.
            "missing_sample": dg.MetadataValue.json([f"{k}:{i}" for k, i in missing[:10]]),
        },
    )


@dg.asset_check(
    asset=EMBEDDING_SETS,
    description=(
        f"Index quality: recall@{RECALL_K} of the HNSW index against exact search, for {RECALL_SAMPLE} "
        f"sampled chunk vectors used as queries, must be at least {RECALL_MIN}; the figure is in the metadata."
    ),
)
def embedding_recall(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        result = recall_at_10(conn)
        if "recall_at_10" in result.metadata:
            with conn.cursor() as cur:
                cur.execute("update ml.embedding_sets set recall_at_10 = %s where set_id = %s",
                            (result.metadata["recall_at_10"].value, result.metadata["set_id"].value))
            conn.commit()
        return result


def recall_at_10(conn) -> dg.AssetCheckResult:
    s = current_set(conn)
    if s is None:
        return _no_set()
    recalls: list[float] = []
    with conn.cursor() as cur:
        for table, _ in s.tables():
            # A deterministic sample (by hash of the id), so reruns compare like with like.
            cur.execute(sql.SQL("select embedding::text from {} order by md5(chunk_id) limit %s").format(table),
                        (RECALL_SAMPLE,))
            for (vector,) in cur.fetchall():
                found = {}
                for exact in (False, True):
                    # hnsw.ef_search as search() sets it for k results.
                    cur.execute("select set_config('hnsw.ef_search', %s, true)", (str(ef_search_for(RECALL_K)),))
                    cur.execute("select set_config('enable_indexscan', %s, true)", ("off" if exact else "on",))
                    cur.execute("select set_config('enable_seqscan', %s, true)", ("on" if exact else "off",))
                    cur.execute(sql.SQL("select chunk_id from {} order by embedding <=> %s::vector limit %s").format(table),
                                (vector, RECALL_K))
                    found[exact] = {r[0] for r in cur.fetchall()}
                conn.rollback()
                if found[True]:
                    recalls.append(len(found[False] & found[True]) / len(found[True]))
    recall = sum(recalls) / len(recalls) if recalls else 1.0
    return dg.AssetCheckResult(
        passed=recall >= RECALL_MIN,
        metadata={
            "set_id": s.set_id,
            "recall_at_10": dg.MetadataValue.float(round(recall, 4)),
            "queries": len(recalls),
            "threshold": RECALL_MIN,
            "worst_query_recall": dg.MetadataValue.float(round(min(recalls), 2) if recalls else 1.0),
        },
    )


@dg.asset_check(
    asset=EMBEDDING_SETS,
    description=(
        "Dimension and count: exactly one vector per chunk of the chunker's output (for the set's chunker "
        "version), every vector of the set's dimension, and the registry's chunk count matches the tables."
    ),
)
def embedding_dimension_and_count(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        return dimension_and_count(conn)


def dimension_and_count(conn) -> dg.AssetCheckResult:
    s = current_set(conn)
    if s is None:
        return _no_set()
    vectors = wrong_dimension = duplicates = 0
    expected = 0
    with conn.cursor() as cur:
        for table, kinds in s.tables():
            cur.execute(sql.SQL(
                "select count(*), count(distinct chunk_id), count(*) filter (where vector_dims(embedding) <> %s) "
                "from {}").format(table), (s.dimension,))
            n, distinct, wrong = cur.fetchone()
            vectors += n
            duplicates += n - distinct
            wrong_dimension += wrong
            cur.execute("select count(*) from search.chunks where source_kind = any(%s) and chunker_version = %s",
                        (list(kinds), s.chunker_version))
            expected += cur.fetchone()[0]
        cur.execute("select chunks from ml.embedding_sets where set_id = %s", (s.set_id,))
        registered = cur.fetchone()[0]
    # When the chunker's output is of another version (a new set is on its way), only the set's own
    # consistency is checked: it keeps answering until the new one is complete.
    compare = expected > 0 or vectors == 0
    passed = wrong_dimension == 0 and duplicates == 0 and registered == vectors and (not compare or expected == vectors)
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "set_id": s.set_id,
            "dimension": s.dimension,
            "vectors": vectors,
            "chunks_expected": expected,
            "registered_chunks": registered,
            "wrong_dimension": wrong_dimension,
            "duplicates": duplicates,
        },
    )


CHECKS = [embedding_coverage, embedding_recall, embedding_dimension_and_count]
