"""The digest outbox (meta.digest_outbox): record first, send afterwards, never twice.

1. `enqueue` writes the HTML file under STUDENTOPS_HOME/artifacts/digests/ and inserts the row with
   status 'queued'. The row is unique per (kind, period, recipient): a rerun of the same period
   inserts nothing and keeps the first rendering, so a digest is never rendered twice either.
2. `send_pending` takes each 'queued' or 'failed' row under a per-row advisory lock (a second runner
   skips it), counts the attempt and commits *before* calling the provider, then records 'sent' with
   the provider's message id, or 'failed' with the error.
A run killed between the provider accepting a mail and step 2's commit leaves the row 'queued' with
an attempt counted: the next run sends it again with the same idempotency key, which Resend answers
with the first send's id instead of sending again. So each digest reaches its recipient once.

Run-failure alerts mailed to staff (sensors/alerts.py) go through the same sender with their own
table, meta.alert_outbox (`ALERTS`), whose rows carry their HTML inline rather than in a file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from resources.mailer import MailerResource, MailSendError

from .periods import Period

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Outbox:
    """One outbox table and how its rows are described in logs (never by address)."""

    table: str
    lock_namespace: int  # advisory lock namespace: a row id locks only within its own table
    label_sql: str  # what a log line calls the row, e.g. "daily 2026-12-02"
    html_sql: str  # the column holding the HTML, or the path of the file that holds it
    html_in_file: bool


DIGESTS = Outbox("meta.digest_outbox", 0x4449_4745, "digest_kind || ' ' || period_key", "html_path", True)  # "DIGE"
ALERTS = Outbox("meta.alert_outbox", 0x414C_5254, "'alert ' || alert_id", "body_html", False)  # "ALRT"


@dataclass
class Rendered:
    recipient_id: str
    recipient_email: str | None
    subject: str
    html: str
    text: str
    stale: list[dict] = field(default_factory=list)


def idempotency_key(period: Period, recipient_id: str) -> str:
    # Opaque: the key travels to the provider, the recipient's id need not.
    digest = hashlib.sha256(f"{period.kind}|{period.key}|{recipient_id}".encode()).hexdigest()[:32]
    return f"studentops-{period.kind}-{period.key}-{digest}"


def artifact_path(home: Path, period: Period, recipient_id: str) -> Path:
    safe = hashlib.sha256(recipient_id.encode()).hexdigest()[:16] if not recipient_id.replace("-", "").isalnum() else recipient_id
    return home / "artifacts" / "digests" / period.kind / period.key / f"{safe}.html"


def enqueue(conn, home: Path, period: Period, rendered: Rendered) -> bool:
    """Record one digest; False when this (kind, period, recipient) was already recorded."""
    path = artifact_path(home, period, rendered.recipient_id)
    with conn.cursor() as cur:
        cur.execute(
            "select html_path from meta.digest_outbox where digest_kind = %s and period_key = %s and recipient_id = %s",
            (period.kind, period.key, rendered.recipient_id),
        )
        row = cur.fetchone()
    if row is not None:
        if not Path(row[0]).exists():
            # The row survived but its file did not (artifacts wiped): write it back, same content as sent.
            Path(row[0]).parent.mkdir(parents=True, exist_ok=True)
            Path(row[0]).write_text(rendered.html, encoding="utf-8")
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(rendered.html, encoding="utf-8")
    tmp.replace(path)  # the file is complete before the row that points to it exists
    with conn:
        with conn.cursor() as cur:
            cur.execute(
                """
                insert into meta.digest_outbox (digest_kind, period_key, period_start, period_end, recipient_id,
                    recipient_email, subject, body_text, html_path, idempotency_key, stale_assets, status, last_error)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'queued', %s)
                on conflict (digest_kind, period_key, recipient_id) do nothing
                """,
                (period.kind, period.key, period.start, period.end, rendered.recipient_id, rendered.recipient_email,
                 rendered.subject, rendered.text, str(path), idempotency_key(period, rendered.recipient_id),
                 json.dumps(rendered.stale), None if rendered.recipient_email else "no e-mail address configured"),
            )
            return cur.rowcount == 1


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    skipped_locked: int = 0
    not_sendable: int = 0
    errors: list[str] = field(default_factory=list)


def send_pending(conn, mailer: MailerResource, log=None, outbox: Outbox = DIGESTS) -> SendReport:
    report = SendReport()
    with conn.cursor() as cur:
        cur.execute(
            f"select outbox_id from {outbox.table} where status in ('queued', 'failed') and attempts < %s"
            " and recipient_email is not null order by outbox_id",
            (MAX_ATTEMPTS,),
        )
        ids = [r[0] for r in cur.fetchall()]
    conn.commit()
    for outbox_id in ids:
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(%s, %s)", (outbox.lock_namespace, outbox_id))
            if not cur.fetchone()[0]:
                report.skipped_locked += 1
                conn.commit()
                continue
        try:
            _send_one(conn, mailer, outbox, outbox_id, report, log)
        finally:
            with conn.cursor() as cur:
                cur.execute("select pg_advisory_unlock(%s, %s)", (outbox.lock_namespace, outbox_id))
            conn.commit()
    return report


def _send_one(conn, mailer: MailerResource, outbox: Outbox, outbox_id: int, report: SendReport, log) -> None:
    with conn:
        with conn.cursor() as cur:
            # Re-read under the lock: another runner may have sent it since the list was taken.
            cur.execute(
                f"update {outbox.table} set attempts = attempts + 1, last_attempt_at = now(), provider = 'resend'"
                " where outbox_id = %s and status in ('queued', 'failed')"
                f" returning recipient_email, subject, body_text, {outbox.html_sql}, idempotency_key,"
                f" {outbox.label_sql}, attempts",
                (outbox_id,),
            )
            row = cur.fetchone()
    if row is None:
        return
    email, subject, text, html_or_path, key, label, attempts = row
    try:
        html = Path(html_or_path).read_text(encoding="utf-8") if outbox.html_in_file else html_or_path
        result = mailer.send(to=email, subject=subject, html=html, text=text, idempotency_key=key)
    except (MailSendError, OSError) as exc:
        # Provider errors can quote the address back: keep it out of the outbox's error and the logs.
        error = str(exc).replace(email, "<recipient>")[:500]
        with conn:
            with conn.cursor() as cur:
                cur.execute(f"update {outbox.table} set status = 'failed', last_error = %s where outbox_id = %s",
                            (error, outbox_id))
        report.failed += 1
        report.errors.append(f"outbox {outbox_id} ({label}): {error}")
        if log:
            # The row id, never the address: e-mail addresses stay out of logs.
            name = "digest outbox" if outbox is DIGESTS else outbox.table
            log.warning(f"{name} {outbox_id} ({label}) attempt {attempts} failed: {error}")
        return
    with conn:
        with conn.cursor() as cur:
            cur.execute(
                f"update {outbox.table} set status = 'sent', provider_message_id = %s, sent_at = now(), last_error = null"
                " where outbox_id = %s",
                (result.message_id, outbox_id),
            )
    report.sent += 1
