"""`studentops`: set up, materialise and open the StudentOps warehouse.

Every failure a user can cause or meet (a port in use, a bad studentops.yaml, an unreachable server)
ends in one line on stderr and a non-zero exit; set STUDENTOPS_DEBUG=1 for the full traceback.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import sys
import traceback

import click

# First: its import time is the command's start, which the progress display and summaries count from.
from studentops_assets.core.progress import Display, elapsed  # isort: skip
from studentops_assets.core.errors import StudentOpsError
from studentops_assets.core.logs import configure_cli_logging
from studentops_assets.core.settings import load_config


def _fail(message: str) -> None:
    click.echo(f"studentops: error: {message}", err=True)
    sys.exit(1)


def friendly_errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except StudentOpsError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted")
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            if os.environ.get("STUDENTOPS_DEBUG"):
                traceback.print_exc()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _fail(f"{type(exc).__name__}: {first} (set STUDENTOPS_DEBUG=1 for the traceback)")

    return wrapper


def _ready():
    """Start/reach the server, prepare the warehouse and the Dagster instance's environment."""
    from resources.postgres_server import ensure_database, ready_urls
    from studentops_assets.core.instance import prepare_dagster_home

    from resources.bi_role import ensure_bi_role

    config = load_config()
    urls = ready_urls(config)
    ensure_database(urls, urls.dagster)
    prepare_dagster_home(config, urls.dagster)
    if urls.embedded is not None or os.environ.get("STUDENTOPS_BI_PASSWORD"):
        ensure_bi_role(config, urls)
    os.environ.setdefault("STUDENTOPS_HOME", str(config.home))
    # The command's own records (the runs it starts and how they end) as JSON lines in
    # $STUDENTOPS_HOME/logs/cli.jsonl; the runs' records go to runs.jsonl (dagster.yaml).
    configure_cli_logging()
    return config, urls


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """StudentOps: the study-analytics warehouse as a Dagster asset graph.

    State lives in $STUDENTOPS_HOME (default ./.studentops). Set STUDENTOPS_DATABASE_URL to use an
    external Postgres with pgvector instead of the embedded one.
    """


@main.command()
@click.option("--students", default=500, show_default=True, help="Platform students to generate.")
@click.option("--days", default=300, show_default=True, help="Days of platform activity, ending yesterday.")
@click.option("--seed", default=7, show_default=True, help="Random seed: the same seed gives the same data.")
@click.option("--vault-students", default=3, show_default=True, help="Students that also get study sources.")
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day of activity (default yesterday).")
@click.option("--force", is_flag=True, help="Overwrite a platform database that the demo did not create.")
@friendly_errors
def demo(students: int, days: int, seed: int, vault_students: int, end_date, force: bool) -> None:
    """Write demo inputs and studentops.yaml into $STUDENTOPS_HOME and fill a demo platform database."""
    from resources.postgres_server import ensure_database
    from studentops_assets.demo import generate_demo

    if students < 1 or days < 1:
        raise StudentOpsError("--students and --days must be at least 1")
    with Display(sys.stdout) as display:
        display.phase("starting the warehouse server and preparing the Dagster instance")
        config, urls = _ready()
        ensure_database(urls, urls.platform)
        if urls.embedded is not None:
            from resources.bi_role import ensure_bi_role

            ensure_bi_role(config, urls)  # the platform database is new: close it to the BI role too
        if not force:
            _refuse_real_platform(urls.platform)
        display.line(f"studentops: generating demo data in {config.home} (students={students}, days={days}, seed={seed})")
        display.phase("generating the platform's activity, the study files and the platform database")
        summary = generate_demo(
            config.home,
            urls.platform,
            students=students,
            days=days,
            seed=seed,
            end_date=end_date.date() if end_date else None,
            vault_students=min(vault_students, students),
            warehouse_port=config.port,
        )
    click.echo(str(summary))
    click.echo(f"studentops: demo ready in {elapsed():.1f}s")
    click.echo("next: studentops materialize")


def _refuse_real_platform(platform_url: str) -> None:
    """The demo drops and recreates the platform tables: never do that to a platform database it did
    not create itself (one with tables but without the demo's `demo_truth` schema)."""
    from resources.postgres_server import connect, redact

    conn = connect(platform_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select count(*) filter (where table_schema = 'public'), "
                "count(*) filter (where table_schema = 'demo_truth') from information_schema.tables"
            )
            public_tables, demo_tables = cur.fetchone()
    finally:
        conn.close()
    if public_tables and not demo_tables:
        raise StudentOpsError(
            f"{redact(platform_url)} already holds {public_tables} tables that the demo did not create; "
            "the demo would drop them. Point STUDENTOPS_PLATFORM_URL elsewhere, or pass --force"
        )


@main.command()
@click.option("--select", "selection", default=None, help="Asset selection, e.g. 'group:notes' or 'key:raw/notes+'.")
@friendly_errors
def materialize(selection: str | None) -> None:
    """Materialise the whole graph (or a selection) through the Dagster instance."""
    with Display(sys.stdout) as display:
        display.phase("starting the warehouse server and preparing the Dagster instance")
        config, urls = _ready()
        display.phase("loading Dagster")
        from .materialize import run_materialize

    if not config.students:
        click.echo("studentops: note: no students in studentops.yaml; run `studentops demo` or add some", err=True)
    sys.exit(run_materialize(selection, urls))


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@main.command()
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--timeout", "start_timeout", default=300, show_default=True, help="Seconds to wait for the UI to answer.")
@friendly_errors
def dev(port: int, host: str, start_timeout: int) -> None:
    """Start the Dagster UI and daemon on this instance (Ctrl-C or SIGTERM stops both)."""
    from studentops_assets.core.devserver import run_dev
    from studentops_assets.materialize import _export_dbt_env
    from studentops_assets.warehouse.project import prepare_manifest

    with Display(sys.stdout) as display:
        display.phase("starting the warehouse server and preparing the Dagster instance")
        _config, urls = _ready()
        if not _port_free(port):
            raise StudentOpsError(f"port {port} is already in use; pass --port to pick another")
        display.phase("parsing the dbt project")
        # Parse once, before the code servers load it, so edited models are what the UI shows.
        _export_dbt_env(urls)
        prepare_manifest()
    sys.exit(run_dev(host, port, start_timeout))


@main.command("db-url")
@click.option("--bi", is_flag=True, help="The read-only role for BI tools.")
@click.option("--env", "as_env", is_flag=True, help="Print shell exports for dbt/profiles.yml instead.")
@click.option("--database", default="warehouse", show_default=True, help="warehouse, dagster or platform.")
@friendly_errors
def db_url(bi: bool, as_env: bool, database: str) -> None:
    """Print the TCP connection URL of the warehouse (starting the embedded server if needed)."""
    import shlex

    from resources.bi_role import ensure_bi_role
    from resources.postgres_server import PgParams, ready_urls, with_database

    config = load_config()
    urls = ready_urls(config)
    chosen = {"warehouse": urls.warehouse, "dagster": urls.dagster, "platform": urls.platform}.get(database)
    if chosen is None:
        raise StudentOpsError(f"unknown database {database!r}: use warehouse, dagster or platform")
    if bi:
        if database != "warehouse":
            raise StudentOpsError("the BI role reads the warehouse only")
        chosen = with_database(ensure_bi_role(config, urls), "warehouse")
    if as_env:
        params = PgParams.from_url(chosen)
        for name, value in (
            ("STUDENTOPS_PGHOST", params.host),
            ("STUDENTOPS_PGPORT", str(params.port)),
            ("STUDENTOPS_PGUSER", params.user),
            ("STUDENTOPS_PGPASSWORD", params.password),
            ("STUDENTOPS_PGDATABASE", params.database),
            ("STUDENTOPS_TIMEZONE", config.timezone),
        ):
            click.echo(f"export {name}={shlex.quote(value)}")
        return
    click.echo(chosen)


@main.command()
@click.option("--students", default=500, show_default=True, help="Platform students in the benchmark's demo data.")
@click.option("--days", default=180, show_default=True, help="Days of platform activity.")
@click.option("--seed", default=7, show_default=True)
@click.option("--stages", default="all", show_default=True,
              help="Comma-separated stages to measure (each with everything upstream of it): "
                   "platform, sources, dbt, features, churn, forecast, embeddings, search, ai; or all.")
@click.option("--repeat", default=3, show_default=True, help="Rounds of COPY + first sync; the best of each is compared.")
@click.option("--vault-students", default=3, show_default=True, help="Demo students with study sources (notes, calendars, references).")
@click.option("--queries", default=50, show_default=True, help="Search queries for the exact-against-HNSW yardstick.")
@click.option("--search-chunks", default=100_000, show_default=True,
              help="Also measure HNSW against exact search on this many chunks (the real ones, copied and jittered); 0: skip.")
@click.option("--min-ratio", type=float, default=None, help="Exit non-zero if replication reaches less than this share of COPY's throughput.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the results here (they always go to $STUDENTOPS_HOME/bench/results).")
@click.option("--keep", is_flag=True, help="Leave the benchmark's server running (to look at its data).")
@friendly_errors
def bench(students: int, days: int, seed: int, stages: str, repeat: int, vault_students: int, queries: int,
          search_chunks: int, min_ratio: float | None, json_path: str | None, keep: bool) -> None:
    """Benchmark the whole graph through Dagster, stage by stage, against its yardsticks, in a home of its own
    under $STUDENTOPS_HOME/bench."""
    import json

    from studentops_assets.bench import STAGE_NAMES, print_report, run_bench

    if students < 1 or days < 1 or repeat < 1 or queries < 1 or vault_students < 0 or search_chunks < 0:
        raise StudentOpsError("--students, --days, --repeat and --queries must be at least 1, --search-chunks at least 0")
    chosen = STAGE_NAMES if stages.strip() == "all" else tuple(s.strip() for s in stages.split(",") if s.strip())
    if unknown := [s for s in chosen if s not in STAGE_NAMES]:
        raise StudentOpsError(f"unknown stage {unknown[0]!r}: use {', '.join(STAGE_NAMES)} or all")
    if min_ratio is not None and "platform" not in chosen:
        raise StudentOpsError("--min-ratio needs the platform stage")
    root = load_config().home / "bench"
    report, path = run_bench(root, students, days, seed, repeat, keep, click.echo, stages=chosen,
                             vault_students=vault_students, search_queries=queries, search_chunks=search_chunks)
    if json_path is not None:
        from pathlib import Path

        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print_report(report, sys.stdout)
    click.echo(f"results: {json_path or path}")
    ratio = report.get("replication", {}).get("throughput_ratio")
    if min_ratio is not None and ratio is not None and ratio < min_ratio:
        _fail(f"replication reached {ratio:.0%} of COPY's throughput, below --min-ratio {min_ratio:.0%}")


@main.command()
@friendly_errors
def stop() -> None:
    """Stop the embedded Postgres (a no-op with STUDENTOPS_DATABASE_URL)."""
    from resources.postgres_server import embedded_server

    if os.environ.get("STUDENTOPS_DATABASE_URL"):
        click.echo("studentops: using an external server (STUDENTOPS_DATABASE_URL); nothing to stop")
        return
    stopped = embedded_server(load_config()).stop()
    click.echo("studentops: embedded Postgres stopped" if stopped else "studentops: embedded Postgres was not running")


# --- ML: model versions and the forecast evaluator (issue #9) ---------------------------------------

@main.group()
def model() -> None:
    """Churn model versions: list them, promote one (also to roll back)."""


@model.command("list")
@friendly_errors
def model_list() -> None:
    """Every trained churn model version, oldest first, with its holdout metrics and status."""
    import psycopg2

    from studentops_assets.ml import versions

    _, urls = _ready()
    conn = psycopg2.connect(urls.warehouse)
    try:
        rows = versions.list_versions(conn)
    finally:
        conn.close()
    if not rows:
        click.echo("studentops: no churn model versions yet (materialise ml/churn_model)")
        return
    click.echo(f"{'version':<26} {'status':<10} {'AUC':>6} {'Brier':>7} {'base':>7}  {'test window':<23} sha256")
    for r in rows:
        m = r["metrics"] or {}
        auc = f"{m['roc_auc']:.3f}" if m.get("roc_auc") is not None else "-"
        click.echo(f"{r['version']:<26} {r['status']:<10} {auc:>6} {m.get('brier', float('nan')):>7.4f} "
                   f"{m.get('brier_base_rate', float('nan')):>7.4f}  {str(r['test_start'])} .. {str(r['test_end'])} "
                   f"{r['artifact_sha256'][:12]}")


@model.command("promote")
@click.argument("version")
@friendly_errors
def model_promote(version: str) -> None:
    """Make VERSION the production churn model (the previous one is retired). Its artifact must still
    match its recorded hash. The next `ml/churn_scores` run scores with it."""
    import psycopg2

    from studentops_assets.ml import versions

    _, urls = _ready()
    conn = psycopg2.connect(urls.warehouse)
    try:
        previous, _ = versions.promote(conn, version)
        conn.commit()
    finally:
        conn.close()
    if previous == version:
        click.echo(f"studentops: {version} is already the production churn model")
    else:
        click.echo(f"studentops: {version} is now the production churn model (was {previous or 'none'})")


@main.command("forecast-eval")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False), help="Hourly history, one row per series and hour.")
@click.option("--time", "time_col", required=True, help="Timestamp column (ISO 8601; without an offset: local time in --timezone).")
@click.option("--series", "series_col", required=True, help="Series id column (e.g. a course code).")
@click.option("--value", "value_col", required=True, help="Numeric value column.")
@click.option("--timezone", default=None, help="Zone of timestamps without an offset (default: the study timezone).")
@click.option("--origins", default=4, show_default=True, help="Rolling origins (weeks) of the backtest.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@friendly_errors
def forecast_eval(csv_path: str, time_col: str, series_col: str, value_col: str, timezone: str | None,
                  origins: int, as_json: bool) -> None:
    """Backtest the demand forecaster on your own hourly history: the same model choice as
    ml/forecast_backtest, MASE against seasonal naive and 95% interval coverage, per series and overall."""
    import json

    from studentops_assets.ml import forecast as fc
    from studentops_assets.ml.csv_history import load_hourly_csv

    if origins < 1:
        raise StudentOpsError("--origins must be at least 1")
    tz = timezone or load_config().timezone
    history = load_hourly_csv(csv_path, time_col, series_col, value_col, tz)
    hours = history.frame["ds"].nunique()
    needed = origins * fc.HORIZON + fc.MIN_HISTORY
    if hours < needed:
        raise StudentOpsError(f"{csv_path}: {hours} hours of history; a {origins}-origin backtest of 7-day forecasts "
                              f"needs at least {needed} ({fc.MIN_HISTORY // 168} weeks before the first origin)")
    result = fc.summary(fc.backtest(history.frame, origins, tz=tz))
    result["notes"] = history.notes
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for note in history.notes:
        click.echo(f"note: {note}")
    o = result["overall"]

    def num(v):
        return "-" if v is None else f"{v:.3f}"

    click.echo(f"model chosen by backtest: {o['model']} ({origins} origins, 7-day horizon, 95% intervals)")
    click.echo(f"{'series':<20} {'MASE':>7} {'naive':>7} {'coverage':>9}")
    for uid, r in result["series"].items():
        click.echo(f"{uid:<20} {num(r['mase']):>7} {num(r['mase_seasonal_naive']):>7} {num(r['coverage']):>9}")
    click.echo(f"{'overall':<20} {num(o['mase']):>7} {num(o['mase_seasonal_naive']):>7} {num(o['coverage']):>9}")
@main.command()
@click.argument("text")
@click.option("-k", "k", default=10, show_default=True, help="How many chunks to return.")
@click.option("--course", default=None, help="Only chunks of this course code (e.g. CS101).")
@click.option("--student", default=None, help="Only chunks of this student (slug in studentops.yaml): notes, references.")
@click.option("--kind", type=click.Choice(["notes", "materials", "references"]), default=None, help="Only this kind of source.")
@click.option("--mode", type=click.Choice(["hybrid", "vector"]), default="hybrid", show_default=True,
              help="hybrid: vector + full-text (reciprocal rank fusion); vector: embeddings only.")
@friendly_errors
def search(text: str, k: int, course: str | None, student: str | None, kind: str | None, mode: str) -> None:
    """Semantic search over the chunks of materials, notes and reference abstracts."""
    from resources.postgres_server import ready_urls
    from studentops_assets.search.cli_table import print_results
    from studentops_assets.search.query import search as run_search

    import psycopg2

    config = load_config()
    student_id = None
    if student is not None:
        match = [s for s in config.students if s.slug == student]
        if not match:
            known = ", ".join(s.slug for s in config.students) or "none configured"
            raise StudentOpsError(f"unknown student {student!r} (students: {known})")
        student_id = match[0].id
    conn = psycopg2.connect(ready_urls(config).warehouse, connect_timeout=10)
    try:
        result = run_search(conn, text, k=k, course=course, student_id=student_id, kind=kind, mode=mode)
    finally:
        conn.close()
    print_results(text, result, k)


if __name__ == "__main__":
    main()
