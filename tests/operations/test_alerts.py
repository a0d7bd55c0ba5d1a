"""Alerts in meta.alerts: a failed run opens one (once per job), a later success resolves it; a failed
freshness policy opens one per asset and a passing one resolves it. A newly opened run-failure alert
is mailed to the staff once, through meta.alert_outbox, against the Resend stand-in (also when Resend
answers 5xx at first). Real runs, a real warehouse."""

from __future__ import annotations

import time

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState, FreshnessStateChange

from resources.mailer import MailerResource
from sensors.alerts import alert_mails, build_freshness_alert_sensor, run_failure_alerts, run_success_resolves_alerts

from ..standins import ResendStandIn

STAFF = ["ops@uni.example.test", "head.of.studies@uni.example.test"]
# What a careless error message can carry: a connection URL with its password, a student's address.
LEAKY_ERROR = ("cannot reach postgresql://loader:hunter2-in-a-url@db.internal:5432/platform "
               "while loading the row of ada.student@example.test")


@dg.asset
def fragile(context) -> None:
    if context.run.tags.get("break") == "yes":
        raise RuntimeError("the source refused the connection")
    if context.run.tags.get("break") == "leaky":
        raise RuntimeError(LEAKY_ERROR + "\nsecond line of the error, not mailed")


JOB = dg.define_asset_job("fragile_job", [fragile])
MAILED_JOB = dg.define_asset_job("nightly_platform_job", [fragile])
RETRIED_JOB = dg.define_asset_job("retried_platform_job", [fragile])
DEFS = dg.Definitions(assets=[fragile], jobs=[JOB, MAILED_JOB, RETRIED_JOB])


@pytest.fixture(scope="module")
def warehouse(new_home):
    _, warehouse = new_home(notify={"staff_emails": STAFF})
    return warehouse


def alerts(warehouse, alert_type: str) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("select entity_id, status, severity, summary, resolved_at is not null from meta.alerts "
                    "where alert_type = %s order by alert_id", (alert_type,))
        return cur.fetchall()


def run_and_notify(instance, warehouse, broken: bool, job_name: str = "fragile_job", mailer=None,
                   how: str = "yes") -> str:
    job = DEFS.get_job_def(job_name)
    result = job.execute_in_process(instance=instance, tags={"break": how if broken else "no"},
                                    raise_on_error=False)
    assert result.success is not broken
    run = instance.get_run_by_id(result.run_id)
    event_type = dg.DagsterEventType.RUN_FAILURE if broken else dg.DagsterEventType.RUN_SUCCESS
    (record,) = instance.get_records_for_run(result.run_id, of_type=event_type).records
    context = dg.build_run_status_sensor_context(
        sensor_name="s", dagster_instance=instance, dagster_run=run,
        dagster_event=record.event_log_entry.dagster_event,
        resources={"warehouse": warehouse, "mailer": mailer or MailerResource()})
    if broken:
        run_failure_alerts(context.for_run_failure())
    else:
        run_success_resolves_alerts(context)
    return result.run_id


def test_failed_runs_open_one_alert_and_a_success_resolves_it(warehouse):
    with dg.instance_for_test() as instance:
        run_and_notify(instance, warehouse, broken=True)
        run_and_notify(instance, warehouse, broken=True)  # still failing: no second alert
        # Without RESEND_API_KEY the alert's mails are recorded (one per staff address), not sent.
        assert [r[1:4] for r in alert_mail_rows(warehouse, "fragile_job")] == [("queued", 0, None)] * 2
        (alert,) = alerts_of(warehouse, "fragile_job")
        assert alert[:3] == ("fragile_job", "open", "critical")
        assert "the source refused the connection" in alert[3]

        run_and_notify(instance, warehouse, broken=False)
        (alert,) = alerts_of(warehouse, "fragile_job")
        assert alert[1] == "resolved" and alert[4]

        run_and_notify(instance, warehouse, broken=True)  # a new failure opens a new alert
        assert [a[1] for a in alerts_of(warehouse, "fragile_job")] == ["resolved", "open"]
        assert len(alert_mail_rows(warehouse, "fragile_job")) == 4


def test_failed_freshness_opens_an_alert_until_the_asset_is_fresh(warehouse):
    key = dg.AssetKey(["marts", "fact_demo"])
    sensor = build_freshness_alert_sensor({key})
    with dg.instance_for_test() as instance:
        def change(new: FreshnessState, previous: FreshnessState) -> None:
            instance._report_runless_asset_event(  # the daemon's own way of recording a state change
                FreshnessStateChange(key=key, new_state=new, previous_state=previous,
                                     state_change_timestamp=time.time()))

        def tick():
            return sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse}))

        change(FreshnessState.FAIL, FreshnessState.PASS)
        assert "1 alerts opened" in tick().skip_message
        assert "0 alerts opened" in tick().skip_message  # still stale: no duplicate
        (alert,) = alerts(warehouse, "freshness_failed")
        assert alert[:3] == ("marts/fact_demo", "open", "warning")

        change(FreshnessState.PASS, FreshnessState.FAIL)
        assert "1 resolved" in tick().skip_message
        (alert,) = alerts(warehouse, "freshness_failed")
        assert alert[1] == "resolved"


def alert_mail_rows(warehouse, job: str) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute("select o.recipient_email, o.status, o.attempts, o.provider_message_id, o.last_error "
                    "from meta.alert_outbox o join meta.alerts a using (alert_id) "
                    "where a.entity_id = %s order by o.outbox_id", (job,))
        return cur.fetchall()


def alerts_of(warehouse, job: str) -> list[tuple]:
    return [a for a in alerts(warehouse, "run_failure") if a[0] == job]


def mails_about(resend, job: str) -> list[dict]:
    # Other tests of this module share the warehouse: a retry tick may send their queued mails too.
    return [d for d in resend.deliveries if job in d["subject"]]


def tick_alert_mails(instance, warehouse, mailer) -> str:
    return alert_mails(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse,
                                                                           "mailer": mailer})).skip_message


def test_a_failed_run_is_mailed_to_the_staff_once_per_open_alert(warehouse):
    with ResendStandIn() as resend, dg.instance_for_test() as instance:
        mailer = MailerResource(api_key="re_test_key", api_url=resend.url)
        run_id = run_and_notify(instance, warehouse, broken=True, job_name="nightly_platform_job", mailer=mailer,
                                how="leaky")
        assert sorted(d["to"][0] for d in mails_about(resend, "nightly_platform_job")) == sorted(STAFF)
        mail = mails_about(resend, "nightly_platform_job")[0]
        for body in (mail["text"], mail["html"]):
            assert "nightly_platform_job" in body and run_id in body and "fragile" in body  # job, run, step
            assert "cannot reach postgresql://loader:***@db.internal:5432/platform" in body  # the error line
            # ... without the URL's password, the student's address or the error's later lines.
            assert "hunter2" not in body and "ada.student" not in body and "second line" not in body
        assert "nightly_platform_job" in mail["subject"] and "hunter2" not in mail["subject"]
        assert [r[1:3] for r in alert_mail_rows(warehouse, "nightly_platform_job")] == [("sent", 1)] * 2

        # Failing again while the alert is open: no second mail, now or from the retry sensor.
        run_and_notify(instance, warehouse, broken=True, job_name="nightly_platform_job", mailer=mailer)
        tick_alert_mails(instance, warehouse, mailer)
        assert len(mails_about(resend, "nightly_platform_job")) == 2
        assert len(alert_mail_rows(warehouse, "nightly_platform_job")) == 2
        (alert,) = alerts_of(warehouse, "nightly_platform_job")
        assert alert[1] == "open" and "hunter2" not in alert[3] and "ada.student" not in alert[3]

        # Resolved by a success, a new failure is a new alert and is mailed again.
        run_and_notify(instance, warehouse, broken=False, job_name="nightly_platform_job", mailer=mailer)
        run_and_notify(instance, warehouse, broken=True, job_name="nightly_platform_job", mailer=mailer)
        mails = mails_about(resend, "nightly_platform_job")
        assert len(mails) == 4 and "the source refused the connection" in mails[-1]["text"]
        assert len({m["key"] for m in mails}) == 4  # four mails, four idempotency keys


def test_a_mail_resend_refused_is_retried_later_and_delivered_once(warehouse):
    with ResendStandIn() as resend, dg.instance_for_test() as instance:
        mailer = MailerResource(api_key="re_test_key", api_url=resend.url, attempts=2)
        # Resend is down while the alert opens: every try (two per mail) of both mails gets a 503.
        resend.fail_next(503, times=2 * len(STAFF))
        run_and_notify(instance, warehouse, broken=True, job_name="retried_platform_job", mailer=mailer)
        assert mails_about(resend, "retried_platform_job") == []
        rows = alert_mail_rows(warehouse, "retried_platform_job")
        assert [r[1:3] for r in rows] == [("failed", 1)] * 2 and all("503" in r[4] for r in rows)
        assert all("@" not in r[4] for r in rows)
        (alert,) = alerts_of(warehouse, "retried_platform_job")
        assert alert[1] == "open"

        # A second failure while the alert is open records nothing new; the retry sensor sends each once.
        run_and_notify(instance, warehouse, broken=True, job_name="retried_platform_job", mailer=mailer)
        assert mails_about(resend, "retried_platform_job") == []
        assert "0 failed" in tick_alert_mails(instance, warehouse, mailer)
        assert "0 sent, 0 failed" in tick_alert_mails(instance, warehouse, mailer)
        mails = mails_about(resend, "retried_platform_job")
        assert sorted(d["to"][0] for d in mails) == sorted(STAFF)
        rows = alert_mail_rows(warehouse, "retried_platform_job")
        assert [r[1:3] for r in rows] == [("sent", 2)] * 2
        assert {r[3] for r in rows} == {d["id"] for d in mails}
