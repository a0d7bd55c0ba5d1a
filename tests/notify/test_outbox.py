"""Digests through the outbox against a Resend stand-in: never lost, never sent twice, retried, and
saying when the data behind them is stale."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from resources.mailer import MailerResource
from studentops_assets.notify.assets import daily_digests, weekly_digests

from ..conftest import REPO_ROOT, STUDENTOPS
from ..standins import ResendStandIn

STUDENTS = [
    {"id": "11111111-1111-4111-8111-111111111111", "slug": "ada", "name": "Ada", "email": "ada@example.test"},
    {"id": "22222222-2222-4222-8222-222222222222", "slug": "grace", "name": "Grace", "email": "grace@example.test"},
    {"id": "33333333-3333-4333-8333-333333333333", "slug": "linus", "name": "Linus", "email": "linus@example.test"},
]


def outbox(home, kind="daily"):
    return home.query(
        "select recipient_id, status, attempts, provider_message_id, idempotency_key, html_path, last_error"
        " from meta.digest_outbox where digest_kind = %s order by recipient_id", (kind,))


def _materialize(warehouse, mailer, asset=daily_digests, day="2026-12-02"):
    result = dg.materialize([asset], resources={"warehouse": warehouse, "mailer": mailer},
                            run_config={"ops": {asset.op.name: {"config": {"day": day}}}},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    return result.asset_materializations_for_node(asset.op.name)[0].metadata


# What Dagster's run monitoring (the daemon, dagster.yaml `run_monitoring`) does for a run whose
# process died: mark it failed and give back its pool slots. Without it the rerun would wait for
# the `mailer` pool slot the killed run still holds.
_MONITOR = """
import dagster as dg
from dagster._core.storage.dagster_run import DagsterRunStatus, RunsFilter
from resources.postgres_server import ready_urls
from studentops_assets.core.instance import prepare_dagster_home
from studentops_assets.core.settings import load_config
config = load_config()
prepare_dagster_home(config, ready_urls(config).dagster)
instance = dg.DagsterInstance.get()
for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING])):
    instance.report_run_failed(run, message="worker process died (SIGKILL in the test)")
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
"""


def _monitor_dead_runs(home) -> None:
    import sys

    subprocess.run([sys.executable, "-c", _MONITOR], env=home.env(), cwd=REPO_ROOT, check=True, timeout=300)


def test_a_run_killed_while_sending_then_rerun_sends_each_digest_once(new_home):
    home, _ = new_home(students=STUDENTS)
    with ResendStandIn(hang_after=2) as resend:
        env = home.env(RESEND_API_KEY="re_test_key", RESEND_API_URL=resend.url)
        run = subprocess.Popen([str(STUDENTOPS), "materialize", "--select", "key:meta/daily_digests"], env=env,
                               cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            assert resend.hung.wait(timeout=600), "the sender never reached the second digest"
        finally:
            # The provider has accepted digest 2; the sender dies before it hears back.
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        rows = outbox(home)
        assert [r[1] for r in rows].count("sent") == 1 and len(rows) == 3
        resend.hang_after = None
        _monitor_dead_runs(home)
        rerun = home.cli("materialize", "--select", "key:meta/daily_digests", timeout=900,
                         RESEND_API_KEY="re_test_key", RESEND_API_URL=resend.url)
        assert rerun.returncode == 0
        deliveries = list(resend.deliveries)
        keys_sent = [r["headers"].get("idempotency-key") for r in resend.requests if r["path"] == "/emails"]
    rows = outbox(home)
    assert {r[1] for r in rows} == {"sent"}
    # One delivery per student, though four sends were made: the repeat carried the same key.
    assert sorted(d["to"][0] for d in deliveries) == sorted(s["email"] for s in STUDENTS)
    assert len(keys_sent) == 4 and len(set(keys_sent)) == 3
    assert {r[3] for r in rows} == {d["id"] for d in deliveries}
    assert sorted(r[2] for r in rows) == [1, 1, 2]
    for row in rows:
        assert Path(row[5]).is_file()


def test_a_failed_send_is_retried_on_the_next_run_and_addresses_stay_out_of_metadata(new_home):
    home, warehouse = new_home(students=STUDENTS[:2])
    with ResendStandIn() as resend:
        mailer = MailerResource(api_key="re_test_key", api_url=resend.url, attempts=2)
        resend.fail_next(500, times=2)  # the first digest's two tries
        resend.fail_next(429, headers={"retry-after": "0"})  # the second's first try
        first = _materialize(warehouse, mailer)
        rows = outbox(home)
        assert sorted(r[1] for r in rows) == ["failed", "sent"]
        failed = next(r for r in rows if r[1] == "failed")
        assert "500" in failed[6] and "@" not in failed[6]
        second = _materialize(warehouse, mailer)
        assert {r[1] for r in outbox(home)} == {"sent"}
        assert len(resend.deliveries) == 2
        # A third run has nothing left to send and renders nothing new.
        third = _materialize(warehouse, mailer)
        assert len(resend.deliveries) == 2 and third["newly_recorded"].value == 0
    for meta in (first, second, third):
        assert "@" not in repr({k: v.value for k, v in meta.items()})


def test_without_a_key_digests_are_recorded_as_queued_and_stale_sources_are_said_first(new_home):
    home, warehouse = new_home(students=STUDENTS[:1])
    # An instance that has never materialised what the digest reads: every source is unknown/stale.
    meta = _materialize(warehouse, MailerResource(), asset=weekly_digests, day="2026-12-06")
    (recipient, status, attempts, message_id, key, html_path, _), = outbox(home, "weekly")
    assert (status, attempts, message_id) == ("queued", 0, None)
    assert meta["period"].value == "2026-W49" and "not configured" in meta["mailer"].value
    html = Path(html_path).read_text()
    assert html.index("Some data in this digest is out of date") < html.index("Due in the next 7 days")
    assert "Your assessments" in html and "never" in html
    (subject, text, stale), = home.query("select subject, body_text, stale_assets from meta.digest_outbox")
    assert subject.startswith("[data out of date]") and text.startswith("NOTE: SOME DATA")
    assert {s["key"] for s in stale} >= {"marts/dim_assessments", "ai/note_summaries"}
    assert "ada@example.test" not in html and "ada@example.test" not in text
