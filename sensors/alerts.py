"""Alerts in `meta.alerts`: a failed run, an asset whose freshness policy failed.

At most one alert is open per (type, entity) (a unique partial index): a second failure of the same
job or a still-stale asset changes nothing; the alert resolves when the job next succeeds or the
asset is fresh again.

A newly opened run-failure alert is also mailed to the staff (`notify: {staff_emails: [...]}` in
studentops.yaml) through an outbox, meta.alert_outbox: its mails are recorded in the transaction
that opens the alert (so an alert is never without its mails, and a repeat failure, which opens
nothing, records none), then sent with one idempotency key per (alert, address). A send that fails
stays in the outbox and is retried by the `alert_mails` sensor every minute; without RESEND_API_KEY
the mails are recorded only, as the digests are. The mail says the job, run, failed step and the
error's first line, with URL passwords, credential values and e-mail addresses taken out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterable

import dagster as dg
from dagster._core.definitions.freshness import FreshnessState

from resources.mailer import MailerResource
from resources.warehouse import WarehouseResource
from studentops_assets.notify.outbox import ALERTS, send_pending

OPEN_ALERT_SQL = """
insert into meta.alerts (alert_type, severity, entity_type, entity_id, summary, details)
values (%s, %s, %s, %s, %s, %s::jsonb)
on conflict (alert_type, entity_type, entity_id) where status <> 'resolved' do nothing
returning alert_id
"""
RESOLVE_ALERT_SQL = """
update meta.alerts set status = 'resolved', resolved_at = now()
where alert_type = %s and entity_type = %s and entity_id = %s and status <> 'resolved'
"""


ENQUEUE_ALERT_MAIL_SQL = """
insert into meta.alert_outbox (alert_id, recipient_id, recipient_email, subject, body_text, body_html, idempotency_key)
values (%s, %s, %s, %s, %s, %s, %s)
on conflict (alert_id, recipient_id) do nothing
"""

# Variables whose values are credentials: none of them may reach an alert's text or its mail.
_SECRET_VARIABLE = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def scrub(text: str) -> str:
    """An error line fit for meta.alerts and a mail: no URL password, no value of a credential
    variable of this process, no e-mail address (an error can quote a student's row)."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    for name, value in os.environ.items():
        if _SECRET_VARIABLE.search(name) and len(value) >= 6:
            text = text.replace(value, "***")
    return _EMAIL.sub("<e-mail>", text)


def open_alert(warehouse: WarehouseResource, alert_type: str, severity: str, entity_type: str, entity_id: str,
               summary: str, details: dict) -> bool:
    """Open an alert unless one is open already; True if a new one was opened."""
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(OPEN_ALERT_SQL, (alert_type, severity, entity_type, entity_id, summary, json.dumps(details)))
        opened = cur.fetchone() is not None
        conn.commit()
    return opened


def resolve_alert(warehouse: WarehouseResource, alert_type: str, entity_type: str, entity_id: str) -> int:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(RESOLVE_ALERT_SQL, (alert_type, entity_type, entity_id))
        resolved = cur.rowcount
        conn.commit()
    return resolved


def _root_cause(error) -> str | None:
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message if error is not None else None


def _first_line(text: str | None) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "no message")


def staff_recipients(warehouse: WarehouseResource) -> list[str]:
    from studentops_assets.notify.assets import staff_recipients as from_config

    return from_config(warehouse.settings().home)


def _recipient_id(email: str) -> str:
    # The same opaque id as the staff digest's: the outbox's key columns carry no address.
    return "staff-" + hashlib.sha256(email.lower().encode()).hexdigest()[:16]


def alert_mail_idempotency_key(alert_id: int, run_id: str, recipient_id: str) -> str:
    digest = hashlib.sha256(f"{run_id}|{recipient_id}".encode()).hexdigest()[:32]
    return f"studentops-alert-{alert_id}-{digest}"


def render_alert_mail(alert_id: int, job: str, run_id: str, failed_steps: list[str], error: str,
                      failed_at: dt.datetime) -> tuple[str, str, str]:
    """(subject, html, text) of a run-failure mail."""
    from studentops_assets.notify.assets import render

    subject = f"[StudentOps] run of {job} failed: {error}"[:200]
    html, text = render("alert", subject=subject, alert_id=alert_id, job=job, run_id=run_id,
                        failed_steps=failed_steps, error=error,
                        failed_at=failed_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))
    return subject, html, text


def open_run_failure_alert(warehouse: WarehouseResource, job: str, run_id: str, failed_steps: list[str],
                           error: str) -> tuple[int | None, int]:
    """Open the job's alert and record its mails, in one transaction; (alert id or None if one was
    open already, mails recorded)."""
    summary = f"run {run_id[:8]} of {job} failed: {error}"[:500]
    details = {"run_id": run_id, "failed_steps": failed_steps[:50]}
    recipients = staff_recipients(warehouse)
    with warehouse.connection() as conn:
        with conn, conn.cursor() as cur:
            cur.execute(OPEN_ALERT_SQL.replace("returning alert_id", "returning alert_id, created_at"),
                        ("run_failure", "critical", "job", job, summary, json.dumps(details)))
            row = cur.fetchone()
            if row is None:
                return None, 0
            alert_id, created_at = row
            subject, html, text = render_alert_mail(alert_id, job, run_id, failed_steps, error, created_at)
            recorded = 0
            for email in dict.fromkeys(recipients):
                recipient = _recipient_id(email)
                cur.execute(ENQUEUE_ALERT_MAIL_SQL, (alert_id, recipient, email, subject, text, html,
                                                     alert_mail_idempotency_key(alert_id, run_id, recipient)))
                recorded += cur.rowcount
    return alert_id, recorded


def send_alert_mails(warehouse: WarehouseResource, mailer: MailerResource, log=None):
    """Send every unsent alert mail (None without a key: they stay queued)."""
    if not mailer.enabled:
        return None
    with warehouse.connection() as conn:
        return send_pending(conn, mailer, log, outbox=ALERTS)


@dg.run_failure_sensor(
    name="run_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Opens a critical alert in meta.alerts for every job whose run failed (one open alert "
    "per job) and mails a newly opened one to the staff through meta.alert_outbox.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, warehouse: WarehouseResource, mailer: MailerResource):
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    failed_steps = [event.step_key for event in step_failures if event.step_key]
    # The step's own error says what went wrong; the run's message only lists the failed steps.
    error = _root_cause(step_failures[0].step_failure_data.error) if step_failures else None
    if error is None and context.failure_event is not None:
        error = context.failure_event.message
    alert_id, recorded = open_run_failure_alert(warehouse, run.job_name, run.run_id, failed_steps,
                                                scrub(_first_line(error))[:300])
    report = send_alert_mails(warehouse, mailer, context.log) if alert_id is not None else None
    mails = ("" if alert_id is None else
             f"; {recorded} mails recorded" + (f", {report.sent} sent, {report.failed} failed" if report
                                               else " (RESEND_API_KEY unset: not sent)"))
    context.log.info(f"run {run.run_id} of {run.job_name} failed; alert "
                     f"{'opened' if alert_id is not None else 'already open'}{mails}")


@dg.sensor(
    name="alert_mails",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends the alert mails still unsent in meta.alert_outbox (the provider refused or was "
    "down when the alert opened, or RESEND_API_KEY was unset then), each once.",
)
def alert_mails(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, mailer: MailerResource):
    report = send_alert_mails(warehouse, mailer, context.log)
    if report is None:
        return dg.SkipReason("RESEND_API_KEY unset: alert mails stay queued in meta.alert_outbox")
    return dg.SkipReason(f"alert mails: {report.sent} sent, {report.failed} failed, "
                         f"{report.skipped_locked} being sent elsewhere")


@dg.run_status_sensor(
    name="run_success_resolves_alerts",
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Resolves a job's open run-failure alert once a run of that job succeeds.",
)
def run_success_resolves_alerts(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
    resolve_alert(warehouse, "run_failure", "job", context.dagster_run.job_name)


def _freshness_alerts(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                      keys: Iterable[dg.AssetKey]) -> dg.SkipReason:
    records = context.instance.get_freshness_state_records(list(keys))
    opened = resolved = 0
    for key, record in records.items():
        name = key.to_user_string()
        if record.freshness_state == FreshnessState.FAIL:
            opened += open_alert(warehouse, "freshness_failed", "warning", "asset", name,
                                 summary=f"{name} is stale: its freshness policy failed",
                                 details={"since": record.updated_at.isoformat()})
        elif record.freshness_state == FreshnessState.PASS:
            resolved += resolve_alert(warehouse, "freshness_failed", "asset", name)
    return dg.SkipReason(f"{len(records)} freshness states read; {opened} alerts opened, {resolved} resolved")


def build_freshness_alert_sensor(asset_keys: set[dg.AssetKey]) -> dg.SensorDefinition:
    @dg.sensor(
        name="freshness_alerts",
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Opens a warning alert in meta.alerts for every asset whose freshness policy failed, "
        "and resolves it when the asset is fresh again.",
    )
    def freshness_alerts(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        return _freshness_alerts(context, warehouse, sorted(asset_keys))

    return freshness_alerts
