"""`studentops materialize`: runs through the Dagster instance, with progress and a summary.

The run executes in this process tree (no daemon needed) but is created in and logs to the instance's
Postgres storage, so it shows up in the UI like any other run. Progress is read back from the same
event log the UI reads, into one `Progress` that can follow several runs in sequence: call
`progress.add_run(...)` for each planned run (totals add up across runs), then
`_execute_with_progress(recon_job, keys, progress)` for each.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import click
import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import RunsFilter

from resources.postgres_server import ServerUrls
from studentops_assets.core.errors import StudentOpsError
from studentops_assets.core.instance import REPO_ROOT
from studentops_assets.core.progress import Display, elapsed, stamp

INVOCATION_TAG = "studentops/invocation"
# Records for $STUDENTOPS_HOME/logs/cli.jsonl (core/logs.py): which run this command started, for
# which assets, and how it ended.
log = logging.getLogger("studentops.cli.materialize")
_WATCHED = {
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_SUCCESS,
}


@contextlib.contextmanager
def _run_output_to(log_path: Path) -> Iterator[TextIO]:
    """Send everything the run prints (Dagster's event log lines, dbt's output, from this process and
    the step subprocesses, which inherit the file descriptors) to `log_path`; yield the terminal."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    saved = os.dup(1), os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)
        terminal.close()


@dataclass
class Progress:
    """Counters of one `studentops materialize` across all of its runs, and its display."""

    display: Display
    # Assets, not materialisation events: a partitioned asset built for 43 weeks counts once.
    materialised: set = field(default_factory=set)
    rows: int = 0
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    checks_warned: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    finished: bool = False
    # Totals over every run added with add_run, and where we are.
    runs_total: int = 0
    runs_started: int = 0
    steps_total: int = 0
    steps_done: int = 0
    assets_total: int = 0
    dbt_keys: set = field(default_factory=set)
    dbt_done: int = 0
    running: dict[str, float] = field(default_factory=dict)

    @property
    def assets(self) -> int:
        return len(self.materialised)

    def add_run(self, keys, steps: int, dbt_keys=()) -> None:
        self.runs_total += 1
        self.steps_total += steps
        self.assets_total += len(keys)
        self.dbt_keys |= set(dbt_keys)

    def echo(self, line: str) -> None:
        self.display.line(line)

    def stamp(self) -> str:
        return stamp()

    def status(self) -> str:
        parts = []
        if self.runs_total > 1:
            parts.append(f"run {max(self.runs_started, 1)}/{self.runs_total}")
        parts.append(f"steps {self.steps_done}/{self.steps_total or '?'} done")
        parts.append(f"assets {self.assets}/{self.assets_total or '?'}")
        if self.runs_started and not self.running and self.steps_done == 0:
            parts.append("launching the run (its process loads the asset graph)")
        if self.running:
            now = time.monotonic()
            current = sorted(self.running.items(), key=lambda item: item[1])
            names = ", ".join(f"{step} ({now - since:.0f}s)" for step, since in current[:2])
            if len(current) > 2:
                names += f" +{len(current) - 2}"
            parts.append(f"running {names}")
        if self.dbt_keys and (self.dbt_done or any("dbt" in step for step in self.running)):
            parts.append(f"dbt {self.dbt_done}/{len(self.dbt_keys)} models")
        return " | ".join(parts)


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return "no message"


def _report(event, progress: Progress) -> None:
    dagster_event = event.dagster_event
    kind = dagster_event.event_type
    if kind == DagsterEventType.STEP_START:
        progress.running[dagster_event.step_key] = time.monotonic()
        progress.echo(f"  {progress.stamp()} > {dagster_event.step_key}")
    elif kind == DagsterEventType.STEP_SUCCESS:
        since = progress.running.pop(dagster_event.step_key, None)
        progress.steps_done += 1
        took = f" in {time.monotonic() - since:.1f}s" if since is not None else ""
        progress.echo(f"  {progress.stamp()} done {dagster_event.step_key}{took} "
                      f"(step {progress.steps_done}/{progress.steps_total or '?'})")
    elif kind == DagsterEventType.ASSET_MATERIALIZATION:
        mat = dagster_event.step_materialization_data.materialization
        rows = mat.metadata.get("dagster/row_count")
        count = int(rows.value) if rows is not None else None
        progress.materialised.add(mat.asset_key)
        progress.rows += count or 0
        if mat.asset_key in progress.dbt_keys:
            progress.dbt_done += 1
        suffix = f"{count:>10,} rows" if count is not None else ""
        progress.echo(f"  {progress.stamp()} ok {mat.asset_key.to_user_string():<40} {suffix}")
    elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
        evaluation = dagster_event.event_specific_data
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        if evaluation.passed:
            progress.checks_passed += 1
        elif evaluation.severity == dg.AssetCheckSeverity.WARN:
            progress.checks_warned.append(name)
            progress.echo(f"  {progress.stamp()} warn check {name}")
        else:
            progress.checks_failed.append(name)
            progress.echo(f"  {progress.stamp()} FAILED check {name}")
    elif kind == DagsterEventType.STEP_FAILURE:
        error = dagster_event.step_failure_data.error
        # Dagster wraps the real exception ("Error occurred while executing op ..."): report the cause.
        while error is not None and error.cause is not None:
            error = error.cause
        message = _first_line(error.message if error else event.message)
        progress.running.pop(dagster_event.step_key, None)
        progress.steps_done += 1
        progress.failures.append(f"{dagster_event.step_key}: {message}")
        progress.echo(f"  {progress.stamp()} FAILED {dagster_event.step_key}: {message}")
    elif kind in (DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_SUCCESS):
        progress.finished = True
        if kind == DagsterEventType.RUN_FAILURE and not progress.failures:
            progress.failures.append(_first_line(event.message))


def _step_count(job_def, keys) -> int:
    """Steps the run will execute (one per op: a dbt build is one step, each GX suite another)."""
    from dagster._core.execution.api import create_execution_plan

    try:
        return len(create_execution_plan(job_def.get_subset(asset_selection=set(keys))).step_keys_to_execute)
    except Exception:  # noqa: BLE001 - only the display's total depends on it
        return 0


def _export_dbt_env(urls: ServerUrls) -> None:
    from resources.postgres_server import PgParams
    from studentops_assets.core.settings import load_config

    params = PgParams.from_url(urls.warehouse)
    os.environ.update(
        STUDENTOPS_PGHOST=params.host,
        STUDENTOPS_PGPORT=str(params.port),
        STUDENTOPS_PGUSER=params.user,
        STUDENTOPS_PGPASSWORD=params.password,
        STUDENTOPS_PGDATABASE=params.database,
        STUDENTOPS_TIMEZONE=load_config().timezone,
    )


def run_materialize(selection: str | None, urls: ServerUrls, display: Display | None = None) -> int:
    from studentops_assets.warehouse.project import prepare_manifest

    own_display = display is None
    display = display or Display(sys.stdout).__enter__()
    try:
        # Re-parse the dbt project before the definitions load, so edited models are what runs. Parse
        # with the connection and timezone the dbt step will see (the warehouse resource exports the
        # same values): a different profile or var makes that step's dbt throw the partial parse
        # away and parse everything again ("Unable to do partial parsing because profile has changed").
        display.phase("parsing the dbt project")
        _export_dbt_env(urls)
        prepare_manifest()
        display.phase("loading the asset graph")
        from studentops_assets.definitions import defs

        repo = defs.get_repository_def()
        try:
            with warnings.catch_warnings():
                # "include_sources is in beta": Dagster's own parser's business, nothing a user can act on.
                warnings.simplefilter("ignore", dg.BetaWarning)
                asset_selection = dg.AssetSelection.from_string(selection) if selection else dg.AssetSelection.all()
                keys = asset_selection.resolve(repo.asset_graph)
        except Exception as exc:  # noqa: BLE001 - selection syntax errors come in several types
            raise StudentOpsError(f"bad --select {selection!r}: {_first_line(str(exc))}") from None
        if not keys:
            raise StudentOpsError(f"--select {selection!r} matches no asset")
        from studentops_assets.run_plan import plan_runs

        # Mixed partitioning (the weekly ml features among unpartitioned assets) becomes a sequence
        # of runs: upstream first, every partition of a partitioned stage in ONE run.
        runs = plan_runs(repo.asset_graph, keys)
        jobs = [repo.get_implicit_job_def_for_assets(planned.keys) for planned in runs]
        dbt_keys = {key for key in keys if "dbt" in repo.asset_graph.get(key).kinds}
        steps = [_step_count(job_def, planned.keys) for job_def, planned in zip(jobs, runs)]
    finally:
        if own_display:
            display.__exit__(None, None, None)

    reconstructable = ReconstructableRepository.for_module(
        "studentops_assets.definitions", "defs", working_directory=str(REPO_ROOT)
    )

    config_home = Path(os.environ["DAGSTER_HOME"]).parent
    stamp_ = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    log_path = config_home / "logs" / f"materialize-{stamp_}.log"
    total_steps = sum(steps) if all(steps) else 0
    in_runs = f" in {len(runs)} runs" if len(runs) > 1 else ""
    click.echo(f"studentops: materialising {len(keys)} assets ({total_steps or '?'} steps{in_runs}) into {urls.describe()}")
    click.echo(f"  full log: {log_path} (JSON lines: {log_path.parent / 'runs.jsonl'})")
    with _run_output_to(log_path) as terminal:
        progress = Progress(display=Display(terminal))
        progress.display.status_of = progress.status
        for planned, count in zip(runs, steps):
            progress.add_run(set(planned.keys), count, dbt_keys & set(planned.keys))
        run_id, outcome = None, {"success": True}
        with progress.display:
            for number, (planned, job_def) in enumerate(zip(runs, jobs), 1):
                if len(runs) > 1:
                    progress.echo(f"  run {number}/{len(runs)}: {planned.describe()}")
                recon_job = reconstructable.get_reconstructable_job(job_def.name)
                log.info(f"run {number}/{len(runs)} of {len(planned.keys)} assets", extra={
                    "job": job_def.name, "asset_keys": sorted(k.to_user_string() for k in planned.keys)})
                run_id, outcome = _execute_with_progress(recon_job, set(planned.keys), progress, planned.tags)
                status = "failed to execute" if "error" in outcome else (
                    "succeeded" if outcome.get("success") else "failed")
                log.log(logging.INFO if status == "succeeded" else logging.ERROR, f"run {run_id} {status}",
                        extra={"run_id": run_id, "job": job_def.name,
                               "asset_keys": sorted(k.to_user_string() for k in planned.keys)})
                if "error" in outcome or not outcome.get("success"):
                    break  # later runs read what this one should have built

    if "error" in outcome:
        error = outcome["error"]
        raise StudentOpsError(f"the run could not be executed: {type(error).__name__}: {_first_line(str(error))}")

    checks = f"{progress.checks_passed} checks passed"
    if progress.checks_warned:
        checks += f", {len(progress.checks_warned)} warned"
    if progress.checks_failed:
        checks += f", {len(progress.checks_failed)} failed"
    # The time the user waited: from the command's start, server start-up and dbt parsing included.
    click.echo(
        f"studentops: {progress.assets}/{progress.assets_total} assets materialised, {progress.rows:,} rows, {checks}, "
        f"in {elapsed():.1f}s (run {run_id})"
    )
    if not outcome.get("success"):
        reason = progress.failures[0] if progress.failures else "the run failed"
        click.echo(f"studentops: error: materialisation failed: {reason}", err=True)
        return 1
    return 0


def _execute_with_progress(recon_job, keys, progress: Progress,
                           tags: dict[str, str] | None = None) -> tuple[str | None, dict[str, object]]:
    instance = dg.DagsterInstance.get()
    token = uuid.uuid4().hex
    outcome: dict[str, object] = {}

    def execute() -> None:
        try:
            with dg.DagsterInstance.get() as run_instance:
                result = dg.execute_job(
                    recon_job,
                    instance=run_instance,
                    asset_selection=sorted(keys),
                    tags={INVOCATION_TAG: token, "studentops/command": "materialize", **(tags or {})},
                    raise_on_error=False,
                )
                outcome["success"] = result.success
                outcome["run_id"] = result.run_id
        except BaseException as exc:  # surfaced in the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=execute, name="studentops-materialize", daemon=True)
    progress.runs_started += 1
    worker.start()
    run_id: str | None = None
    try:
        run_id = _follow(instance, worker, token, progress)
    except KeyboardInterrupt:
        # The run dies with this process: record that, and give back the pool slots its steps held,
        # or the next run that needs those pools would wait for them forever.
        run_id = run_id or _find_run(instance, token)
        if run_id is not None:
            run = instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:
                instance.report_run_canceled(run, message="studentops materialize was interrupted")
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        raise
    return run_id or outcome.get("run_id"), outcome


def _find_run(instance, token: str) -> str | None:
    runs = instance.get_runs(filters=RunsFilter(tags={INVOCATION_TAG: token}), limit=1)
    return runs[0].run_id if runs else None


def _follow(instance, worker: threading.Thread, token: str, progress: Progress) -> str | None:
    """Print the run's events until the worker thread has finished and the log is read to the end."""
    run_id: str | None = None
    cursor: str | None = None
    while True:
        alive = worker.is_alive()
        if run_id is None:
            run_id = _find_run(instance, token)
            if run_id is not None:
                progress.echo(f"  run {run_id} (stored in the Dagster instance; open it with `studentops dev`)")
        if run_id is not None:
            connection = instance.get_records_for_run(run_id, cursor=cursor, of_type=_WATCHED)
            for record in connection.records:
                _report(record.event_log_entry, progress)
            cursor = connection.cursor
            if connection.has_more:
                continue
        if not alive:
            return run_id
        time.sleep(0.5)
