"""Search latency on a materialised home, and how it grows with the number of chunks.

    python -m studentops_assets.search.latency [--queries 60] [--scale 10 --scale 100]

Measures, on the current embedding set of $STUDENTOPS_HOME: p50/p95 of `search()` end to end (query
embedding included, model already loaded) in vector and hybrid mode, with and without a course
filter. With --scale N it copies the set's material/reference vectors N times (each copy jittered and
renormalised, so the index has N times the points and no exact duplicates) into a scratch schema
`bench_search`, builds the same HNSW index (its build time is reported), runs the same SQL there, and
drops the schema. A measurement script, not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import psycopg2

from resources.embedder import embed_with
from resources.warehouse import WarehouseResource

from .query import search
from .store import HNSW_EF_CONSTRUCTION, HNSW_M, EmbeddingSet, current_set


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f"{name:<42} p50 {_pct(ms, 0.5):7.1f} ms   p95 {_pct(ms, 0.95):7.1f} ms   (n={len(ms)})"


def _queries(conn, n: int) -> tuple[list[str], list[str]]:
    with conn.cursor() as cur:
        cur.execute("select distinct source_title from ml.document_chunks where source_kind = 'material' "
                    "order by 1 limit %s", (n,))
        texts = [t.split(": ", 1)[-1] for (t,) in cur.fetchall()]
        cur.execute("select course_code from ml.document_chunks where course_code is not null "
                    "group by 1 order by count(*) desc, 1 limit 5")
        courses = [c for (c,) in cur.fetchall()]
    return texts, courses


def measure_current(conn, n_queries: int) -> list[str]:
    s = current_set(conn)
    texts, courses = _queries(conn, n_queries)
    embed_with(s.identity, ["warm up"])  # load the model outside the timings
    lines = [f"set {s.set_id} ({s.identity.label}), {sum(1 for _ in texts)} queries"]
    for mode in ("vector", "hybrid"):
        for filtered in (False, True):
            times = []
            for i, text in enumerate(texts):
                course = courses[i % len(courses)] if filtered else None
                began = time.perf_counter()
                search(conn, text, k=10, mode=mode, course=course)
                times.append(time.perf_counter() - began)
            lines.append(_summary(f"search() {mode}{' + course filter' if filtered else ''}", times))
    return lines


def scaled_copy(conn, s: EmbeddingSet, scale: int, seed: int = 7) -> tuple[int, float]:
    """Copy the set's chunk vectors `scale` times, each copy jittered and renormalised, into the scratch
    table bench_search.chunks with the production HNSW index; (chunks, index build seconds)."""
    import io

    rng = np.random.default_rng(seed)
    with conn.cursor() as cur:
        cur.execute("select chunk_id, course_code, content, embedding::text from ml.document_chunks")
        rows = cur.fetchall()
    base = np.array([np.fromstring(v.strip("[]"), sep=",", dtype=np.float32) for *_, v in rows])
    with conn.cursor() as cur:
        cur.execute("drop schema if exists bench_search cascade; create schema bench_search")
        cur.execute(f"create table bench_search.chunks (chunk_id text primary key, course_code text, content text, "
                    f"embedding vector({s.dimension}) not null, content_tsv tsvector generated always as "
                    f"(to_tsvector('english', content)) stored)")
        conn.commit()
        for copy in range(scale):
            jitter = base + rng.normal(0, 0.03, base.shape).astype(np.float32)
            jitter /= np.linalg.norm(jitter, axis=1, keepdims=True)
            buffer = "\n".join(
                "\t".join([f"{r[0]}-{copy}", r[1] or "\\N", r[2].replace("\\", "\\\\").replace("\t", " ").replace("\n", " "),
                           "[" + ",".join(f"{x:.6g}" for x in vec) + "]"])
                for r, vec in zip(rows, jitter))
            cur.copy_expert("copy bench_search.chunks (chunk_id, course_code, content, embedding) from stdin",
                            io.StringIO(buffer))
        conn.commit()
        cur.execute("select count(*) from bench_search.chunks")
        (count,) = cur.fetchone()
        cur.execute("set maintenance_work_mem = '1GB'")
        began = time.perf_counter()
        cur.execute(f"create index on bench_search.chunks using hnsw (embedding vector_cosine_ops) "
                    f"with (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})")
        cur.execute("create index on bench_search.chunks using gin (content_tsv)")
        cur.execute("create index on bench_search.chunks (course_code)")
        conn.commit()
        build = time.perf_counter() - began
        cur.execute("analyze bench_search.chunks")
        conn.commit()
    return count, build


def drop_scaled_copy(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("drop schema if exists bench_search cascade")
    conn.commit()


def measure_scaled(conn, scale: int, n_queries: int) -> list[str]:
    s: EmbeddingSet = current_set(conn)
    count, build = scaled_copy(conn, s, scale)
    texts, courses = _queries(conn, n_queries)
    vectors = embed_with(s.identity, texts)
    lines = [f"x{scale}: {count:,} chunks, HNSW build {build:.1f} s"]
    for label, where, params in (("vector", "", []), ("vector + course filter", "where course_code = %s", None)):
        times = []
        for i, vec in enumerate(vectors):
            literal = "[" + ",".join(f"{x:.7g}" for x in vec) + "]"
            args = [literal] + ([courses[i % len(courses)]] if params is None else []) + [literal]
            began = time.perf_counter()
            with conn.cursor() as cur:
                cur.execute("select set_config('hnsw.iterative_scan', 'relaxed_order', true)")
                cur.execute(f"select chunk_id, embedding <=> %s::vector from bench_search.chunks {where} "
                            "order by embedding <=> %s::vector limit 10", args)
                cur.fetchall()
            conn.commit()
            times.append(time.perf_counter() - began)
        lines.append(_summary(f"  SQL {label}", times))
    times = []
    for text in texts:
        began = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("select chunk_id, ts_rank_cd(content_tsv, q) r from bench_search.chunks, "
                        "plainto_tsquery('english', %s) q where content_tsv @@ q order by r desc limit 50", (text,))
            cur.fetchall()
        conn.commit()
        times.append(time.perf_counter() - began)
    lines.append(_summary("  SQL full-text (the hybrid half)", times))
    drop_scaled_copy(conn)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--scale", type=int, action="append", default=[])
    args = parser.parse_args()
    conn = psycopg2.connect(WarehouseResource().url())
    try:
        for line in measure_current(conn, args.queries):
            print(line, flush=True)
        for scale in args.scale:
            for line in measure_scaled(conn, scale, args.queries):
                print(line, flush=True)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
