"""Digest assets: `meta/daily_digests`, `meta/weekly_digests`, `meta/staff_digests`.

Each is a view over meta.digest_outbox (its kind's rows). A run renders the period's digests (Jinja2
HTML + plain text), records them in the outbox, then sends whatever is still unsent, of any kind and
period, when RESEND_API_KEY is set. Without a key rows stay 'queued' (rendered, recorded, not sent)
and are sent by the first run that has one.
"""


import datetime as dt
from pathlib import Path

import dagster as dg
import jinja2
import yaml

from resources.mailer import MailerResource
from resources.warehouse import WarehouseResource

from . import content
from .outbox import Rendered, enqueue, send_pending
from .periods import Period, local_today, period_for
from .staleness import STAFF_SOURCES, STUDENT_SOURCES, stale_sources

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=jinja2.select_autoescape(["html.j2"]),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)

READS = [dg.AssetKey(["marts", "dim_assessments"]), dg.AssetKey(["marts", "fact_study_sessions"]),
         dg.AssetKey(["marts", "fact_readings"]), dg.AssetKey(["ai", "note_summaries"])]


class DigestConfig(dg.Config):
    day: str = ""  # YYYY-MM-DD in the study timezone; empty: today (what the schedules use)


def render(template: str, **values) -> tuple[str, str]:
    return _ENV.get_template(f"{template}.html.j2").render(**values), _ENV.get_template(f"{template}.txt.j2").render(**values)


def staff_recipients(home: Path) -> list[str]:
    """`notify: {staff_emails: [...]}` in studentops.yaml (read at run time; never logged)."""
    path = home / "studentops.yaml"
    if not path.exists():
        return []
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    emails = ((raw.get("notify") or {}).get("staff_emails")) or []
    return [str(e) for e in emails if e]


def _period(config: DigestConfig, kind: str, timezone: str) -> Period:
    day = dt.date.fromisoformat(config.day) if config.day else local_today(timezone)
    return period_for(kind, day)


def student_digests(context, conn, settings, period: Period) -> list[Rendered]:
    stale = [s.as_dict() for s in stale_sources(context, STUDENT_SOURCES)]
    (this_start, this_end), (last_start, _) = period.compare_window
    out = []
    for student in settings.students:
        since = content.previous_digest_at(conn, period.kind, student.id, period.key) or dt.datetime.combine(
            period.start - dt.timedelta(days=1 if period.kind == "daily" else 7), dt.time(), dt.timezone.utc)
        readings, more = content.readings_without_notes(conn, student.id)
        title = (f"Your day, {period.as_of:%A %d %B}" if period.kind == "daily"
                 else f"Your week {period.key}: {period.start:%d %b} to {period.end:%d %b}")
        subject = ("[data out of date] " if stale else "") + f"StudentOps {period.kind} digest: {period.label}"
        values = dict(
            subject=subject, title=title, kind=period.kind, period_label=period.label, timezone=settings.timezone,
            stale=stale, assessments=content.upcoming_assessments(conn, student.id, period.as_of),
            hours=content.study_hours(conn, student.id, period),
            this_label=f"{this_start:%d %b}-{this_end - dt.timedelta(days=1):%d %b}",
            last_label=f"{last_start:%d %b}-{this_start - dt.timedelta(days=1):%d %b}",
            readings=readings, readings_more=more, summaries=content.new_summaries(conn, student.id, since),
        )
        html, text = render("student", **values)
        out.append(Rendered(student.id, student.email, subject, html, text, stale))
    return out


def staff_digest(context, conn, settings, period: Period) -> list[Rendered]:
    stale = [s.as_dict() for s in stale_sources(context, STAFF_SOURCES)]
    churn, alerts = content.newly_high_risk(conn), content.open_alerts(conn)
    subject = ("[data out of date] " if stale else "") + f"StudentOps staff digest: {period.label}"
    html, text = render("staff", subject=subject, title=f"Staff digest, {period.as_of:%A %d %B}", kind="staff",
                        period_label=period.label, timezone=settings.timezone, stale=stale, churn=churn, alerts=alerts)
    recipients = staff_recipients(settings.home)
    # One row per staff address; the recipient id is a hash of the address, so ids carry no address.
    import hashlib

    return [Rendered("staff-" + hashlib.sha256(e.lower().encode()).hexdigest()[:16], e, subject, html, text, stale)
            for e in recipients]


def _run(context, kind: str, config: DigestConfig, warehouse: WarehouseResource, mailer: MailerResource):
    settings = warehouse.settings()
    period = _period(config, kind, settings.timezone)
    with warehouse.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(f"create or replace view meta.{kind}_digests as select * from meta.digest_outbox where digest_kind = %s", (kind,))
        conn.commit()
        rendered = staff_digest(context, conn, settings, period) if kind == "staff" else student_digests(context, conn, settings, period)
        new = sum(enqueue(conn, settings.home, period, r) for r in rendered)
        report = send_pending(conn, mailer, context.log) if mailer.enabled else None
        with conn.cursor() as cur:
            cur.execute(
                "select status, count(*) from meta.digest_outbox where digest_kind = %s and period_key = %s group by 1",
                (kind, period.key),
            )
            by_status = dict(cur.fetchall())
            cur.execute("select count(*) from meta.digest_outbox where status in ('queued', 'failed')")
            unsent_all = cur.fetchone()[0]
    stale = rendered[0].stale if rendered else []
    metadata = {
        "period": dg.MetadataValue.text(period.key),
        "digests_for_period": dg.MetadataValue.int(len(rendered)),
        "newly_recorded": dg.MetadataValue.int(new),
        "status_for_period": dg.MetadataValue.json(by_status),
        "unsent_in_outbox": dg.MetadataValue.int(unsent_all),
        "mailer": dg.MetadataValue.text("resend" if mailer.enabled else "not configured (RESEND_API_KEY unset): rows stay queued"),
        "stale_sources": dg.MetadataValue.json(stale),
        "artifacts": dg.MetadataValue.path(str(settings.home / "artifacts" / "digests" / kind / period.key)),
    }
    if report is not None:
        metadata.update(sent_this_run=dg.MetadataValue.int(report.sent), failed_this_run=dg.MetadataValue.int(report.failed))
    if kind == "staff" and not rendered:
        metadata["note"] = dg.MetadataValue.text("no staff recipients configured (notify.staff_emails in studentops.yaml)")
    return dg.MaterializeResult(metadata=metadata)


_COMMON = dict(group_name="notify", kinds={"resend", "postgres", "jinja"}, pool="mailer")


@dg.asset(
    key=["meta", "daily_digests"], deps=READS, **_COMMON,
    description=(
        "The daily digest (07:00 study time) of every configured student: assessments due in the next 7 days "
        "with weights, study hours by course against the week before, readings without notes, new summaries "
        "and flashcards; a banner when a source is stale. Rows of meta.digest_outbox (HTML under artifacts)."
    ),
)
def daily_digests(context: dg.AssetExecutionContext, config: DigestConfig, warehouse: WarehouseResource,
                  mailer: MailerResource):
    return _run(context, "daily", config, warehouse, mailer)


@dg.asset(
    key=["meta", "weekly_digests"], deps=READS, **_COMMON,
    # Weekly, not daily: late after a week and two hours, stale after eight days.
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=8), warn_window=dt.timedelta(days=7, hours=2)),
    description=(
        "The weekly digest (Sunday 18:00 study time) of every configured student about the ISO week: due "
        "assessments, study hours by course against the previous week, readings without notes, the week's "
        "summaries and flashcards. Rows of meta.digest_outbox; sent once per week and student."
    ),
)
def weekly_digests(context: dg.AssetExecutionContext, config: DigestConfig, warehouse: WarehouseResource,
                   mailer: MailerResource):
    return _run(context, "weekly", config, warehouse, mailer)


@dg.asset(
    key=["meta", "staff_digests"], **_COMMON,
    description=(
        "The staff digest (07:00 study time): students newly in the high churn-risk tier (ml.churn_scores) "
        "and open meta.alerts, each section only when its table exists. One outbox row per address in "
        "notify.staff_emails of studentops.yaml."
    ),
)
def staff_digests(context: dg.AssetExecutionContext, config: DigestConfig, warehouse: WarehouseResource,
                  mailer: MailerResource):
    return _run(context, "staff", config, warehouse, mailer)
