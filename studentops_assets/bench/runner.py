"""`studentops bench`: the whole graph through Dagster, stage by stage, against its yardsticks.

The benchmark runs in a home of its own (`$STUDENTOPS_HOME/bench/home`, its own embedded server on
a free port), never in the user's warehouse. It generates the demo for the size asked, then:

1. replication rounds (`repeat` times): a raw COPY of every platform table (the yardstick) and the
   `raw/platform_*` assets as a first sync with `studentops materialize`; each replica is checked to
   be an exact copy before any figure is reported;
2. the whole graph (or the stages asked for, with everything upstream of them) as ONE
   `studentops materialize` from empty, exactly as a user runs it; per-step times come from the
   Dagster event log (stages.py) and the process tree's resident memory is sampled (memory.py);
3. a delta: about 1% new platform events plus updates and deletions (delta.py), then the same
   `studentops materialize` again: what a routine run costs as a share of the full build, per stage
   and per dbt model; the replicas are checked again;
4. yardsticks on the built warehouse (yardsticks.py): a plain `dbt build --full-refresh` (against the
   Dagster dbt steps of the full build), exact against HNSW search, the embedding model's throughput.

Results go to the terminal (report.py) and to a JSON file under `$STUDENTOPS_HOME/bench/results`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studentops_assets.core.errors import StudentOpsError

from .baseline import copy_platform, drop_baseline
from .delta import apply_platform_delta
from .memory import TreeRssSampler, mib
from .replicas import replica_differences, reset_platform_replicas
from .stages import STAGES, GraphRun, read_graph_run, runs_since

STUDENTOPS = Path(sys.executable).with_name("studentops")
# Variables that would point the benchmark at the user's own servers: it must only touch its own.
_USER_SERVER_VARIABLES = (
    "STUDENTOPS_DATABASE_URL",
    "STUDENTOPS_DAGSTER_DATABASE_URL",
    "STUDENTOPS_PLATFORM_URL",
    "STUDENTOPS_PG_PASSWORD",
    "STUDENTOPS_BI_PASSWORD",
    "DAGSTER_HOME",
)


@dataclass(frozen=True)
class StageChoice:
    """A stage the user can ask for with --stages: the assets that make it (with their upstream)."""

    name: str
    label: str
    selection: str | None  # None: measured by the benchmark itself, needs `needs`
    needs: tuple[str, ...] = ()


STAGE_CHOICES = (
    StageChoice("platform", "platform replication", "group:platform"),
    StageChoice("sources", "study sources", "group:notes or group:calendar or group:references"),
    StageChoice("dbt", "dbt build", "group:warehouse"),
    StageChoice("features", "features", 'key:"ml/student_features"'),
    StageChoice("churn", "churn train + score", 'key:"ml/churn_scores"'),
    StageChoice("forecast", "forecast", 'key:"ml/forecast_accuracy" or key:"ml/demand_forecast"'),
    StageChoice("embeddings", "embeddings", "group:search"),
    StageChoice("search", "search queries", None, ("embeddings",)),
    StageChoice("ai", "ai + digests", "group:ai or group:notify"),
)
STAGE_NAMES = tuple(choice.name for choice in STAGE_CHOICES)


def selection_for(stages: tuple[str, ...]) -> str | None:
    """The asset selection of the stages asked for, each with everything upstream of it; None for all."""
    if set(stages) >= set(STAGE_NAMES):
        return None
    chosen = {c.name: c for c in STAGE_CHOICES}
    names = set(stages)
    for name in stages:
        names |= set(chosen[name].needs)
    parts = [f"+({chosen[name].selection})" for name in STAGE_NAMES if name in names and chosen[name].selection]
    return " or ".join(parts)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _child_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _USER_SERVER_VARIABLES}
    env.update(STUDENTOPS_HOME=str(home), STUDENTOPS_PG_PORT=str(port))
    return env


def _fail_tail(args: tuple[str, ...], stdout: str, stderr: str) -> StudentOpsError:
    tail = (stderr.strip() or stdout.strip()).splitlines()[-1:] or ["no output"]
    return StudentOpsError(f"benchmark step `studentops {' '.join(args)}` failed: {tail[0]}")


def _cli(env: dict[str, str], *args: str) -> float:
    started = time.monotonic()
    result = subprocess.run([str(STUDENTOPS), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise _fail_tail(args, result.stdout, result.stderr)
    return time.monotonic() - started


def _replication_run(command_seconds: float) -> dict:
    """The figures the raw_platform asset recorded on its latest materialisation."""
    import dagster as dg

    from studentops_assets.platform.tables import PLATFORM_TABLES

    instance = dg.DagsterInstance.get()
    rows = 0
    metadata = {}
    for table in PLATFORM_TABLES:
        event = instance.get_latest_materialization_event(dg.AssetKey(["raw", table.raw_table]))
        metadata = event.asset_materialization.metadata
        rows += int(metadata["rows_loaded_this_run"].value)
    stages = {
        stage: float(metadata[f"run_{stage}_seconds"].value)
        for stage in ("extract", "normalize", "load")
        if f"run_{stage}_seconds" in metadata
    }
    seconds = float(metadata["run_seconds"].value)
    return {"rows": rows, "seconds": seconds, "stages": stages, "command_seconds": round(command_seconds, 2),
            "rows_per_second": round(rows / seconds, 1) if seconds else 0.0}


def _vacuum(url: str) -> None:
    from resources.postgres_server import connect

    conn = connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("vacuum (analyze)")
    finally:
        conn.close()


def _platform_rows(url: str) -> int:
    from resources.postgres_server import connect
    from studentops_assets.platform.tables import PLATFORM_TABLES

    conn = connect(url)
    try:
        with conn.cursor() as cur:
            total = 0
            for table in PLATFORM_TABLES:
                cur.execute(f'select count(*) from public."{table.name}"')
                total += cur.fetchone()[0]
    finally:
        conn.close()
    return total


def _memory_gib() -> float:
    import psutil

    return round(psutil.virtual_memory().total / 2**30, 1)


def run_bench(
    root: Path, students: int, days: int, seed: int, repeat: int, keep: bool, echo: Callable[[str], None],
    stages: tuple[str, ...] = STAGE_NAMES, vault_students: int = 3, search_queries: int = 50,
    search_chunks: int = 0,
) -> tuple[dict, Path]:
    home = root / "home"
    port = _free_port()
    if home.exists():
        subprocess.run([str(STUDENTOPS), "stop"], env=_child_env(home, port), capture_output=True)
        shutil.rmtree(home)
    env = _child_env(home, port)
    # This process reads the bench home too (config, servers, the Dagster instance) until it returns.
    saved_environ = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    report: dict = {}
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"bench-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}-{students}.json"
    try:
        _run(report, home, env, students, days, seed, repeat, keep, echo, stages, vault_students, search_queries, root,
             search_chunks)
    except BaseException as exc:
        # What was measured before the failure is kept, marked as incomplete.
        report["error"] = f"{type(exc).__name__}: {exc}"
        path.with_suffix(".partial.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        raise
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report, path


def _materialize(env: dict[str, str], selection: str | None) -> tuple[GraphRun, float, TreeRssSampler]:
    """One `studentops materialize`, its memory sampled; its runs read back from the event log."""
    import dagster as dg

    args = ("materialize",) + (("--select", selection) if selection else ())
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    started = time.monotonic()
    process = subprocess.Popen([str(STUDENTOPS), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeRssSampler(process.pid) as sampler:
        stdout, stderr = process.communicate()
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise _fail_tail(args, stdout, stderr)
    instance = dg.DagsterInstance.get()
    return read_graph_run(instance, runs_since(instance, since)), seconds, sampler


# Models that skip their work on too short a history, and the metadata flag that says whether they did it:
# a stage whose model was not trained has timed a no-op, and the report must say so.
_MODEL_WORK_FLAGS = ((("ml", "churn_model"), "trained"), (("ml", "forecast_backtest"), "backtested"))


def _skipped_models(since: float) -> dict[str, str]:
    """asset -> reason, for the models of _MODEL_WORK_FLAGS whose materialisation after `since` (epoch
    seconds) says the work was skipped."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    out = {}
    for path, flag in _MODEL_WORK_FLAGS:
        event = instance.get_latest_materialization_event(dg.AssetKey(list(path)))
        if event is None or event.timestamp < since:
            continue
        metadata = event.asset_materialization.metadata
        if flag in metadata and metadata[flag].value is False:
            out["/".join(path)] = str(metadata["reason"].value) if "reason" in metadata else "skipped"
    return out


def _graph_figures(graph: GraphRun, command_seconds: float, sampler: TreeRssSampler) -> dict:
    per_stage = {}
    tests = {name: round(seconds, 3) for name, seconds in graph.test_seconds().items()}
    steps_by_stage = graph.stage_steps()
    for stage, seconds in graph.stage_seconds().items():
        steps = steps_by_stage[stage]
        per_stage[stage] = {
            "seconds": seconds,
            "steps": len(steps),
            # First step start to last step end: the stage's share of the wall clock.
            "span_seconds": round(max(s.finished for s in steps) - min(s.started for s in steps), 3),
            "peak_rss_mib": mib(sampler.peak_between([(s.started, s.finished) for s in steps])),
        }
    return {
        "command_seconds": round(command_seconds, 2),
        "dagster_seconds": round(graph.dagster_seconds, 2),
        "runs": len(graph.run_ids),
        "steps": len(graph.steps),
        "peak_rss_mib": mib(sampler.peak),
        "rss_samples": len(sampler.samples),
        "stages": per_stage,
        "dbt_model_seconds": {k: round(v, 3) for k, v in sorted(graph.model_seconds().items())},
        # dbt's tests, as dbt timed them: all of them together, and the ten slowest.
        "dbt_test_seconds": round(sum(tests.values()), 3),
        "dbt_slowest_tests": dict(sorted(tests.items(), key=lambda kv: -kv[1])[:10]),
    }


def _check_replicas(urls, when: str) -> None:
    if different := replica_differences(urls.platform, urls.warehouse):
        raise StudentOpsError(f"replicas differ from the platform {when}: " + ", ".join(different))


def _run(
    report: dict, home: Path, env: dict[str, str], students: int, days: int, seed: int, repeat: int, keep: bool,
    echo: Callable[[str], None], stages: tuple[str, ...], vault_students: int, search_queries: int, root: Path,
    search_chunks: int = 0,
) -> None:
    from resources.postgres_server import ready_urls
    from studentops_assets.core.instance import prepare_dagster_home
    from studentops_assets.core.settings import load_config

    report.update({
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "students": students, "days": days, "seed": seed, "vault_students": vault_students,
        "stages_asked": list(stages),
        "machine": {"cpus": os.cpu_count(), "memory_gib": _memory_gib(), "python": sys.version.split()[0],
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
    })
    echo(f"bench: demo with {students} students over {days} days in {home}")
    report["demo_seconds"] = round(_cli(env, "demo", "--students", str(students), "--days", str(days), "--seed",
                                        str(seed), "--vault-students", str(vault_students)), 2)
    config = load_config(home)
    urls = ready_urls(config)
    prepare_dagster_home(config, urls.dagster)
    # A freshly loaded table's first reads set its pages' hint bits (writes, on whichever reader comes
    # first); settle that, and the planner statistics, before anything is timed.
    _vacuum(urls.platform)
    report["platform_rows"] = _platform_rows(urls.platform)
    echo(f"bench: {report['platform_rows']:,} platform rows generated in {report['demo_seconds']:.1f}s")
    try:
        if "platform" in stages:
            report["replication"] = _replication_rounds(urls, home, env, repeat, echo)
            # The graph run below syncs from scratch again, so its platform stage is a first sync too.
            reset_platform_replicas(urls.warehouse, home)

        selection = selection_for(stages)
        echo(f"bench: full build ({selection or 'the whole graph'}) through `studentops materialize`")
        began = time.time()
        graph, seconds, sampler = _materialize(env, selection)
        report["full"] = _graph_figures(graph, seconds, sampler)
        if skipped := _skipped_models(began):
            report["full"]["models_not_trained"] = skipped
            echo("bench: models that did not train on this history: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
        echo(f"bench: full build {seconds:.1f}s (Dagster runs {graph.dagster_seconds:.1f}s)")
        if "platform" in stages:
            _check_replicas(urls, "after the full build")

        report["delta"] = _delta(urls, env, seed, selection, stages, report["full"], echo)

        # After the delta, not before: the plain `dbt build --full-refresh` rebuilds every table, and
        # the rerun's tests and suites would then read whole new tables, not the rows since their last
        # pass as a routine run does (dbt/macros/tested_windows.sql). The plain build reads 1% more rows.
        report["yardsticks"] = _yardsticks(urls, env, root, stages, graph, search_queries, echo, search_chunks)
        drop_baseline(urls.warehouse)
        report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    except BaseException:
        if not keep:
            # Stop the server, but report what went wrong in the benchmark, not in the stop.
            subprocess.run([str(STUDENTOPS), "stop"], env=env, capture_output=True)
        raise
    if not keep:
        _cli(env, "stop")


def _replication_rounds(urls, home: Path, env: dict[str, str], repeat: int, echo: Callable[[str], None]) -> dict:
    copy_seconds, first_syncs = [], []
    for attempt in range(1, repeat + 1):
        rows, seconds = copy_platform(urls.platform, urls.warehouse)
        copy_seconds.append(round(seconds, 3))
        reset_platform_replicas(urls.warehouse, home)
        run = _replication_run(_cli(env, "materialize", "--select", "group:platform"))
        first_syncs.append(run)
        if run["rows"] != rows:
            raise StudentOpsError(f"first sync read {run['rows']:,} rows, the platform has {rows:,}")
        _check_replicas(urls, "after a first sync")
        echo(f"bench: replication round {attempt}/{repeat}: COPY {seconds:.2f}s, first sync {run['seconds']:.2f}s")
    best_copy = min(copy_seconds)
    best_sync = min(first_syncs, key=lambda run: run["seconds"])
    return {
        "rows": rows,
        "copy_seconds": copy_seconds,
        "first_syncs": first_syncs,
        "copy_rows_per_second": round(rows / best_copy, 1),
        # Replication throughput as a share of COPY's, best run against best run.
        "throughput_ratio": round(best_copy / best_sync["seconds"], 4),
        "replicas_exact": True,
    }


def _yardsticks(urls, env, root: Path, stages, graph: GraphRun, search_queries: int, echo,
                search_chunks: int = 0) -> dict:
    from resources.postgres_server import connect

    from .yardsticks import embedding_throughput, plain_dbt_build, search_at_scale, search_yardstick

    out: dict = {}
    if "dbt" in stages:
        echo("bench: yardstick: plain `dbt build --full-refresh` outside Dagster")
        plain = plain_dbt_build(STUDENTOPS, env, root / "dbt-target")
        dagster_dbt = [s for s in graph.steps if s.stage == "dbt build"]
        dagster_seconds = sum(s.seconds for s in dagster_dbt)
        out["dbt"] = {
            "plain_seconds": plain["seconds"],
            "dagster_seconds": round(dagster_seconds, 3),
            "dagster_steps": len(dagster_dbt),
            "ratio": round(dagster_seconds / plain["seconds"], 3),
            "plain_model_seconds": plain["model_seconds"],
        }
    conn = connect(urls.warehouse)
    try:
        if "embeddings" in stages or "search" in stages:
            out["embeddings"] = embedding_throughput(conn)
        if "search" in stages:
            echo(f"bench: yardstick: exact against HNSW search, {search_queries} queries")
            out["search"] = search_yardstick(conn, search_queries)
            if search_chunks:
                echo(f"bench: yardstick: exact against HNSW on {search_chunks:,} scaled chunks")
                out["search_scaled"] = search_at_scale(conn, search_chunks, search_queries)
    finally:
        conn.close()
    return out


def _delta(urls, env, seed: int, selection, stages, full: dict, echo) -> dict:
    changes = apply_platform_delta(urls.platform, seed)
    echo("bench: delta applied (" + ", ".join(f"{n:,} {what}" for what, n in changes.items()) + "); rerunning")
    graph, seconds, sampler = _materialize(env, selection)
    figures = _graph_figures(graph, seconds, sampler)
    if "platform" in stages:
        _check_replicas(urls, "after the delta run")
        # What the replication read: only the changed rows (the merge and deletion detection).
        figures["platform_sync"] = _replication_run(seconds)
    for stage, entry in figures["stages"].items():
        full_seconds = full["stages"].get(stage, {}).get("seconds")
        entry["share_of_full"] = round(entry["seconds"] / full_seconds, 4) if full_seconds else None
    full_steps = sum(e["seconds"] for e in full["stages"].values())
    figures["share_of_full_steps"] = round(sum(e["seconds"] for e in figures["stages"].values()) / full_steps, 4)
    figures["share_of_full_wall"] = round(seconds / full["command_seconds"], 4)
    figures["changes"] = changes
    figures["new_events"] = sum(n for what, n in changes.items() if what.endswith("inserted"))
    echo(f"bench: delta run {seconds:.1f}s ({figures['share_of_full_wall']:.0%} of the full build's wall time)")
    return figures


__all__ = ["STAGES", "STAGE_NAMES", "run_bench", "selection_for"]
