"""The yardsticks the graph's stages are held against, measured on the benchmark's own warehouse.

- dbt: the same project built by a plain `dbt build --full-refresh` outside Dagster, with the
  connection `studentops db-url --env` exports (README "dbt on its own"), against the Dagster steps
  that built it from empty in the whole-graph run.
- search: the HNSW scan search uses (`vector_candidates`, index preferred) against the exact
  sequential scan for the same query vectors: recall@10 of the index, and p50/p95 latency of both,
  plus `search()` end to end (query embedding included, model loaded) as a user calls it.
- embeddings: chunks per second of the embedding model, as the embedding asset recorded it in
  ml.embedding_runs.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from studentops_assets.core.errors import StudentOpsError

DBT = Path(sys.executable).with_name("dbt")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _db_env(studentops: Path, env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run([str(studentops), "db-url", "--env"], env=env, capture_output=True, text=True, check=True)
    exported = dict(env)
    for line in out.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            exported[name] = shlex.split(value)[0] if value else ""
    return exported


def plain_dbt_build(studentops: Path, env: dict[str, str], target: Path) -> dict:
    """Seconds of a plain `dbt build --full-refresh`, and dbt's own seconds per model (run_results.json)."""
    dbt_env = _db_env(studentops, env)
    command = [str(DBT), "build", "--full-refresh", "--project-dir", str(REPO_ROOT / "dbt"),
               "--profiles-dir", str(REPO_ROOT / "dbt"), "--target-path", str(target)]
    started = time.monotonic()
    result = subprocess.run(command, env=dbt_env, capture_output=True, text=True, cwd=REPO_ROOT)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        tail = [line for line in result.stdout.splitlines() if "ERROR" in line or "FAIL" in line][:3]
        raise StudentOpsError("plain dbt build failed: " + ("; ".join(tail) or result.stderr.strip()[-300:]))
    return {"seconds": round(seconds, 3), "model_seconds": model_seconds(target / "run_results.json")}


def model_seconds(run_results: Path) -> dict[str, float]:
    """schema/model -> execution seconds, for the models and snapshots of a dbt invocation."""
    results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    out = {}
    for result in results:
        kind, _, name = result["unique_id"].partition(".")
        if kind in ("model", "snapshot"):
            out[name.split(".", 1)[-1]] = round(float(result["execution_time"]), 3)
    return out


def _pct(values: list[float], q: float) -> float:
    from studentops_assets.search.latency import _pct as pct

    return round(pct(values, q), 3) if values else 0.0


def search_yardstick(conn, n_queries: int) -> dict:
    """recall@10 of the HNSW scan against the exact scan, and latencies (ms), for n_queries queries
    built from material titles (as the search latency script builds them)."""
    from resources.embedder import embed_with
    from studentops_assets.search.latency import _queries
    from studentops_assets.search.query import search, vector_candidates
    from studentops_assets.search.store import current_set

    s = current_set(conn)
    if s is None:
        raise StudentOpsError("no current embedding set to search: the embeddings stage did not complete")
    texts, _courses = _queries(conn, n_queries)
    if not texts:
        raise StudentOpsError("no material chunks to build search queries from")
    vectors = embed_with(s.identity, texts)  # also loads the model, outside the timings
    with conn.cursor() as cur:
        cur.execute("select chunks from ml.embedding_sets where set_id = %s", (s.set_id,))
        (chunks,) = cur.fetchone()
    timings: dict[str, list[float]] = {"hnsw": [], "exact": [], "search": []}
    recalls = []
    for text, vector in zip(texts, vectors):
        found = {}
        for name, options in (("hnsw", {"prefer_index": True}), ("exact", {"exact": True})):
            began = time.perf_counter()
            hits = vector_candidates(conn, s, vector, 10, **options)
            timings[name].append((time.perf_counter() - began) * 1000)
            found[name] = {hit.chunk_id for hit in hits}
        if found["exact"]:
            recalls.append(len(found["hnsw"] & found["exact"]) / len(found["exact"]))
        began = time.perf_counter()
        search(conn, text, k=10, mode="hybrid")
        timings["search"].append((time.perf_counter() - began) * 1000)
    out = {"queries": len(texts), "chunks": chunks, "embedding_set": s.set_id, "model": s.identity.label,
           "recall_at_10": round(sum(recalls) / len(recalls), 4) if recalls else None}
    for name, values in timings.items():
        out[f"{name}_p50_ms"] = _pct(values, 0.5)
        out[f"{name}_p95_ms"] = _pct(values, 0.95)
    out["exact_over_hnsw_p50"] = round(out["exact_p50_ms"] / out["hnsw_p50_ms"], 3) if out["hnsw_p50_ms"] else None
    return out


def embedding_throughput(conn) -> dict:
    """The embedding runs recorded so far (the first embeds everything; later ones only new chunks)."""
    with conn.cursor() as cur:
        cur.execute("select embedded, embed_seconds, chunks_per_second from ml.embedding_runs order by run_at")
        rows = cur.fetchall()
    return {
        "runs": [{"embedded": e, "embed_seconds": round(s, 3), "chunks_per_second": round(r, 2) if r else None}
                 for e, s, r in rows],
    }


def search_at_scale(conn, target_chunks: int, n_queries: int) -> dict:
    """recall@10 and p50/p95 of the HNSW scan against the exact scan on about `target_chunks` vectors.

    The demo's vault gives about 1,400 chunks, far from the 100k the issue's search target is set at,
    and embedding 100k real chunks with MiniLM on two cores takes about an hour. So the set's real
    vectors are copied until there are `target_chunks` of them, each copy jittered and renormalised
    (search/latency.py `scaled_copy`: a cloud of near neighbours around every real chunk, which is
    harder for an approximate index than well-separated points), into a scratch table with the
    production HNSW index. The queries are real query embeddings; the same session settings as
    `search()` (its ef_search for k=10, iterative scan) are used."""
    import math

    from resources.embedder import embed_with
    from studentops_assets.search.latency import _queries, drop_scaled_copy, scaled_copy
    from studentops_assets.search.store import current_set, ef_search_for

    ef_search = ef_search_for(10)
    s = current_set(conn)
    if s is None:
        raise StudentOpsError("no current embedding set to scale: the embeddings stage did not complete")
    with conn.cursor() as cur:
        cur.execute("select count(*) from ml.document_chunks")
        (base,) = cur.fetchone()
    if not base:
        raise StudentOpsError("no chunks to scale for the search yardstick")
    scale = max(1, math.ceil(target_chunks / base))
    try:
        chunks, build_seconds = scaled_copy(conn, s, scale)
        texts, _courses = _queries(conn, n_queries)
        vectors = embed_with(s.identity, texts)
        timings: dict[str, list[float]] = {"hnsw": [], "exact": []}
        recalls = []
        for vector in vectors:
            literal = "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"
            found = {}
            for name, setting in (("hnsw", ("enable_seqscan", "off")), ("exact", ("enable_indexscan", "off"))):
                with conn.cursor() as cur:
                    cur.execute("select set_config('hnsw.ef_search', %s, true)", (str(ef_search),))
                    cur.execute("select set_config('hnsw.iterative_scan', 'relaxed_order', true)")
                    cur.execute("select set_config(%s, %s, true)", setting)
                    began = time.perf_counter()
                    cur.execute("select chunk_id from bench_search.chunks order by embedding <=> %s::vector limit 10",
                                (literal,))
                    found[name] = {row[0] for row in cur.fetchall()}
                    timings[name].append((time.perf_counter() - began) * 1000)
                conn.commit()
            recalls.append(len(found["hnsw"] & found["exact"]) / max(1, len(found["exact"])))
    finally:
        drop_scaled_copy(conn)
    out = {"chunks": chunks, "real_chunks": base, "copies": scale, "queries": len(vectors), "ef_search": ef_search,
           "hnsw_build_seconds": round(build_seconds, 2),
           "recall_at_10": round(sum(recalls) / len(recalls), 4) if recalls else None}
    for name, values in timings.items():
        out[f"{name}_p50_ms"] = _pct(values, 0.5)
        out[f"{name}_p95_ms"] = _pct(values, 0.95)
    return out
