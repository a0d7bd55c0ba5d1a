"""`studentops bench`: platform replication through Dagster against a plain COPY of the same rows.

The benchmark runs in a home of its own (`$STUDENTOPS_HOME/bench/home`, its own embedded server on
a free port), never in the user's warehouse: it generates the demo platform for the size asked,
then, `repeat` times, COPYs every table (the yardstick) and runs the `raw/platform_*` assets as a
first sync with `studentops materialize`, exactly as a user would. Each replica is checked to be an
exact copy of the source before any figure is reported. An incremental run after a day's worth of
change (delta.py) shows what a routine sync costs. Results go to the terminal and to a JSON file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from studentops_assets.core.errors import StudentOpsError

from .baseline import copy_platform, drop_baseline
from .delta import apply_platform_delta
from .replicas import replica_differences, reset_platform_replicas

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


@dataclass
class ReplicationRun:
    rows: int
    seconds: float  # the dlt run inside the asset: extract + normalize + load
    stages: dict[str, float]
    command_seconds: float  # the whole `studentops materialize`, process start to exit

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class BenchReport:
    students: int
    days: int
    seed: int
    platform_rows: int
    copy_seconds: list[float] = field(default_factory=list)
    first_syncs: list[ReplicationRun] = field(default_factory=list)
    incremental: ReplicationRun | None = None
    delta: dict[str, int] = field(default_factory=dict)

    @property
    def best_copy(self) -> float:
        return min(self.copy_seconds)

    @property
    def best_first_sync(self) -> ReplicationRun:
        return min(self.first_syncs, key=lambda run: run.seconds)

    @property
    def throughput_ratio(self) -> float:
        """Replication throughput as a share of COPY's, best run against best run."""
        return self.best_copy / self.best_first_sync.seconds

    def as_json(self) -> dict:
        return {
            "students": self.students,
            "days": self.days,
            "seed": self.seed,
            "platform_rows": self.platform_rows,
            "copy_seconds": self.copy_seconds,
            "first_syncs": [asdict(run) | {"rows_per_second": run.rows_per_second} for run in self.first_syncs],
            "incremental": asdict(self.incremental) if self.incremental else None,
            "delta": self.delta,
            "throughput_ratio": self.throughput_ratio,
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        }

    def lines(self) -> list[str]:
        best = self.best_first_sync
        copy_rate = self.platform_rows / self.best_copy
        out = [
            f"platform: {self.platform_rows:,} rows in 14 tables ({self.students} students, {self.days} days, seed {self.seed})",
            f"{'':32}{'best':>9}{'median':>9}{'rows/s':>12}",
            f"{'raw COPY (yardstick)':32}{self.best_copy:>8.2f}s{statistics.median(self.copy_seconds):>8.2f}s{copy_rate:>12,.0f}",
            f"{'dlt replication, first sync':32}{best.seconds:>8.2f}s"
            f"{statistics.median(r.seconds for r in self.first_syncs):>8.2f}s{best.rows_per_second:>12,.0f}",
            "  stages of the best run: " + ", ".join(f"{k} {v:.2f}s" for k, v in best.stages.items()),
            f"  the whole `studentops materialize` (process, Dagster, checks): {best.command_seconds:.1f}s",
            f"replication throughput = {self.throughput_ratio:.0%} of raw COPY",
        ]
        if self.incremental:
            inc = self.incremental
            changed = ", ".join(f"{v:,} {k}" for k, v in self.delta.items())
            out.append(f"incremental sync after a delta ({changed}): {inc.rows:,} rows read in {inc.seconds:.2f}s")
        return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _child_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _USER_SERVER_VARIABLES}
    env.update(STUDENTOPS_HOME=str(home), STUDENTOPS_PG_PORT=str(port))
    return env


def _cli(env: dict[str, str], *args: str) -> float:
    started = time.monotonic()
    result = subprocess.run([str(STUDENTOPS), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise StudentOpsError(f"benchmark step `studentops {' '.join(args)}` failed: {tail[0]}")
    return time.monotonic() - started


def _replication_run(command_seconds: float) -> ReplicationRun:
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
    return ReplicationRun(rows, float(metadata["run_seconds"].value), stages, round(command_seconds, 2))


def _vacuum(url: str) -> None:
    from resources.postgres_server import connect

    conn = connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("vacuum (analyze)")
    finally:
        conn.close()


def run_bench(
    root: Path, students: int, days: int, seed: int, repeat: int, keep: bool, echo: Callable[[str], None]
) -> tuple[BenchReport, Path]:
    home = root / "home"
    port = _free_port()
    if home.exists():
        _cli(_child_env(home, port), "stop")
        shutil.rmtree(home)
    env = _child_env(home, port)
    # This process reads the bench home too (config, servers, the Dagster instance) until it returns.
    saved_environ = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return _run_rounds(root, home, env, students, days, seed, repeat, keep, echo)
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)


def _run_rounds(
    root: Path, home: Path, env: dict[str, str], students: int, days: int, seed: int, repeat: int, keep: bool,
    echo: Callable[[str], None],
) -> tuple[BenchReport, Path]:
    from resources.postgres_server import ready_urls
    from studentops_assets.core.instance import prepare_dagster_home
    from studentops_assets.core.settings import load_config

    echo(f"bench: demo platform with {students} students over {days} days in {home}")
    _cli(env, "demo", "--students", str(students), "--days", str(days), "--seed", str(seed), "--vault-students", "0")
    config = load_config(home)
    urls = ready_urls(config)
    prepare_dagster_home(config, urls.dagster)
    # A freshly loaded table's first reads set its pages' hint bits (writes, on whichever reader comes
    # first); settle that, and the planner statistics, before anything is timed.
    _vacuum(urls.platform)
    report = BenchReport(students, days, seed, platform_rows=0)
    try:
        for attempt in range(1, repeat + 1):
            rows, seconds = copy_platform(urls.platform, urls.warehouse)
            report.platform_rows = rows
            report.copy_seconds.append(round(seconds, 3))
            reset_platform_replicas(urls.warehouse, home)
            command = _cli(env, "materialize", "--select", "group:platform")
            run = _replication_run(command)
            report.first_syncs.append(run)
            if run.rows != rows:
                raise StudentOpsError(f"first sync read {run.rows:,} rows, the platform has {rows:,}")
            if different := replica_differences(urls.platform, urls.warehouse):
                raise StudentOpsError("replicas differ from the platform after a first sync: " + ", ".join(different))
            echo(f"bench: round {attempt}/{repeat}: COPY {seconds:.2f}s, first sync {run.seconds:.2f}s")

        report.delta = apply_platform_delta(urls.platform, seed)
        report.incremental = _replication_run(_cli(env, "materialize", "--select", "group:platform"))
        if different := replica_differences(urls.platform, urls.warehouse):
            raise StudentOpsError("replicas differ from the platform after the incremental sync: " + ", ".join(different))
        drop_baseline(urls.warehouse)
    except BaseException:
        if not keep:
            # Stop the server, but report what went wrong in the benchmark, not in the stop.
            subprocess.run([str(STUDENTOPS), "stop"], env=env, capture_output=True)
        raise
    if not keep:
        _cli(env, "stop")

    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"bench-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}-{students}.json"
    path.write_text(json.dumps(report.as_json(), indent=2), encoding="utf-8")
    return report, path
