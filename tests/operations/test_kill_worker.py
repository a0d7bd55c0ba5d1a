"""A run worker SIGKILLed in the middle of writing a gold table, then a rerun: no duplicates, no lost rows,
the same content as a run that was never killed, and a BI connection that only ever sees a complete table.

Which process is killed, and why it is "the run worker": `studentops materialize` executes its run in
its own process (dg.execute_job through the instance: the orchestrator, Dagster's run worker), and
the multiprocess executor forks one step worker per step from a forkserver under it; the dbt step's
worker starts `dbt build`, whose connection does the writing. The test finds that chain with psutil
(the dbt process, and above it the step worker), and SIGKILLs the run worker and every process under
it at once, as the kernel's OOM killer or a lost container would: nothing gets to clean up, not even
the run's status, which is left STARTED for run monitoring to fail (emulated here as
tests/notify/test_outbox.py does).

"In the middle of writing", deterministically: a BI session holds an ACCESS SHARE lock on
marts.fact_hourly_demand (an open read transaction, as any long BI query would). dbt's table
materialisation builds the new table as `fact_hourly_demand__dbt_tmp` (all rows written) and then,
in the same transaction, renames the old table away, which waits for that lock. The test waits until
Postgres shows that rename waiting, then kills. No sleeps decide anything.

The reference is the first, complete run on the same inputs: a rerun on unchanged inputs rewrites the
gold tables with identical rows (measured: no column of raw, staging or marts differs between two
clean runs, so no column is excluded; dlt's bookkeeping tables `_dlt_*` are left out by
`table_fingerprints`, being a log of loads).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import psutil
import psycopg2
import pytest

from tests.conftest import REPO_ROOT, STUDENTOPS, Home, free_port, table_fingerprints
from tests.notify.test_outbox import _monitor_dead_runs

# The platform replication and the other raw sources fact_hourly_demand reads, their staging models
# and the marts up to it, with their blocking checks: everything the killed dbt step depends on, and
# nothing after it (a couple of minutes per run on two idle cores). The gold table is one dbt builds
# as a table (a new table swapped in by rename); the incremental facts before it are merged in place.
SELECTION = "+key:marts/fact_hourly_demand"
GOLD = "marts.fact_hourly_demand"
GOLD_KEYS = {"marts.fact_hourly_demand": "demand_sk", "marts.fact_study_sessions": "session_sk",
             "marts.fact_material_views": "session_id"}
PLATFORM_KEYS = {"user_course_activities": "user_id, course_id", "user_recent_files": "user_id, file_id"}
# Three runs of the selection and the emulated run monitor: a few minutes on two idle cores, over
# fifteen on the shared CI machine under load; the suite's 900 s per test is not enough there.
pytestmark = pytest.mark.timeout(2400)
RENAME_WAITING = """
select pid from pg_stat_activity
where datname = 'warehouse' and wait_event_type = 'Lock'
  and query ilike '%%alter table%%fact_hourly_demand%%rename%%'
"""


class BiPoller(threading.Thread):
    """Reads the gold table over and over as the BI role: (row count, checksum) or the error."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.seen: list[tuple] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        try:
            while not self.stop.is_set():
                try:
                    with conn.cursor() as cur:
                        cur.execute(f"select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), ''))"
                                    f" from {GOLD} t")
                        self.seen.append(cur.fetchone())
                except psycopg2.Error as exc:
                    self.seen.append(("error", f"{type(exc).__name__}: {str(exc).strip()}"))
        finally:
            conn.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("kill-home"), free_port())
    home.cli("demo", "--students", "60", "--days", "60", "--seed", "7", "--vault-students", "1",
             "--end-date", "2026-11-15")
    home.cli("materialize", "--select", SELECTION)
    yield home
    home.stop()


def gold_state(home: Home) -> tuple:
    return tuple(home.query(f"select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), ''))"
                            f" from {GOLD} t")[0])


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()[:3]
    except psutil.Error:  # a short-lived helper that is already gone
        return []


def _kill_tree(root: psutil.Process) -> list[psutil.Process]:
    tree = [root, *root.children(recursive=True)]
    for proc in tree:  # all at once: none of them gets to react to another's death
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    return tree


def test_a_run_worker_killed_mid_write_then_rerun_leaves_complete_gold_tables(home):
    reference = table_fingerprints(home)
    before = gold_state(home)
    bi_url = home.db_url("--bi")
    poller = BiPoller(bi_url)
    poller.start()

    blocker = psycopg2.connect(bi_url)  # a BI session in the middle of a long read
    with blocker.cursor() as cur:
        cur.execute(f"select count(*) from {GOLD}")
    owner = psycopg2.connect(home.db_url())
    owner.autocommit = True
    run = subprocess.Popen([str(STUDENTOPS), "materialize", "--select", SELECTION], env=home.env(), cwd=REPO_ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        waiting = None
        while waiting is None and run.poll() is None:
            with owner.cursor() as cur:
                cur.execute(RENAME_WAITING)
                row = cur.fetchone()
            waiting = row[0] if row else None
            if waiting is None:
                threading.Event().wait(0.2)  # polling interval only; nothing is decided by time
        assert waiting is not None, f"the run ended before dbt renamed the gold table:\n{run.stdout.read()[-3000:]}"
        worker = psutil.Process(run.pid)
        descendants = worker.children(recursive=True)
        dbt = [p for p in descendants if "build" in _cmdline(p) and any(part.endswith("/dbt") for part in _cmdline(p))]
        assert dbt, [_cmdline(p) for p in descendants]
        step_worker = dbt[0].parent()
        assert step_worker.pid != run.pid and step_worker in descendants  # forked under the run worker
        killed = _kill_tree(worker)
        run.wait()
        assert run.returncode == -signal.SIGKILL
        _, alive = psutil.wait_procs(killed, timeout=120)  # SIGKILL cannot be caught: they all go
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        blocker.rollback()  # the read ends; the dead client's transaction can only roll back now
        blocker.close()

    # The orphaned backend takes the lock, finds its client gone and rolls back.
    while True:
        with owner.cursor() as cur:
            cur.execute("select count(*) from pg_stat_activity where pid = %s", (waiting,))
            if cur.fetchone()[0] == 0:
                break
        threading.Event().wait(0.2)
    assert gold_state(home) == before  # nothing of the killed run's table is visible
    with owner.cursor() as cur:
        cur.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                    "and (table_name like '%%dbt_tmp' or table_name like '%%dbt_backup')")
        assert cur.fetchone()[0] == 0
    owner.close()

    _monitor_dead_runs(home)  # run monitoring: the dead run is failed, its pool slots freed
    home.cli("materialize", "--select", SELECTION)
    poller.stop.set()
    poller.join()

    # The BI session saw only complete tables (before and after are the same content here) and never
    # a missing table or an error, also while the killed run and the rerun wrote.
    assert len(poller.seen) > 10
    assert set(poller.seen) == {before}, {s for s in poller.seen if s != before}

    after = table_fingerprints(home)
    assert after == reference
    for table, key in GOLD_KEYS.items():
        assert home.query(f"select count(*) - count(distinct ({key})) from {table}") == [(0,)], table
    platform_url = home.db_url("--database", "platform")
    replicated = [t for (t,) in home.query("select substr(table_name, 10) from information_schema.tables "
                                           "where table_schema = 'raw' and table_name like 'platform\\_%%'")]
    # The selection replicates the tables the gold fact reads: viewing sessions, courses, majors.
    assert {"file_viewing_sessions", "courses"} <= set(replicated)
    for table in replicated:
        key = PLATFORM_KEYS.get(table, "id")
        source = home.query(f"select count(*), md5(coalesce(string_agg(({key})::text, ',' order by ({key})::text), ''))"
                            f" from public.{table}", url=platform_url)
        replica = home.query(f"select count(*), md5(coalesce(string_agg(({key})::text, ',' order by ({key})::text), ''))"
                             f" from raw.platform_{table}")
        # Every platform row once in its replica: none lost, none twice.
        assert replica == source, table
        assert home.query(f"select count(*) - count(distinct ({key})) from raw.platform_{table}") == [(0,)]
