"""What goes into a digest, read from the warehouse. A section whose table does not exist yet is None
(the template says "no data yet"), an empty section is [] (the template says "nothing")."""

from __future__ import annotations

import datetime as dt
import json

from .periods import Period

READINGS_SHOWN = 8


def exists(conn, relation: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (relation,))
        return bool(cur.fetchone()[0])


def _rows(conn, sql: str, params) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def upcoming_assessments(conn, student_id: str, as_of: dt.date) -> list[dict] | None:
    if not exists(conn, "marts.dim_assessments"):
        return None
    rows = _rows(
        conn,
        "select due_date, course_code, note_path, weight_pct from marts.dim_assessments"
        " where is_current and student_id = %s and due_date >= %s and due_date < %s"
        " and coalesce(lower(status), '') not in ('done', 'submitted', 'graded', 'cancelled')"
        " order by due_date, course_code, note_path",
        (student_id, as_of, as_of + dt.timedelta(days=7)),
    )
    for r in rows:
        r["name"] = r["note_path"].rsplit("/", 1)[-1].removesuffix(".md")
        r["weight"] = f"{float(r['weight_pct']):g}%" if r["weight_pct"] is not None else "weight not set"
    return rows


def study_hours(conn, student_id: str, period: Period) -> list[dict] | None:
    if not exists(conn, "marts.fact_study_sessions"):
        return None
    (this_start, this_end), (last_start, last_end) = period.compare_window
    return _rows(
        conn,
        """
        select coalesce(course_code, '(no course)') as course_code,
               coalesce(sum(duration_minutes) filter (where start_local_date >= %s and start_local_date < %s), 0) / 60.0 as this,
               coalesce(sum(duration_minutes) filter (where start_local_date >= %s and start_local_date < %s), 0) / 60.0 as last
        from marts.fact_study_sessions
        where student_id = %s and start_local_date >= %s and start_local_date < %s
        group by 1 order by 2 desc, 1
        """,
        (this_start, this_end, last_start, last_end, student_id, last_start, this_end),
    )


def readings_without_notes(conn, student_id: str) -> tuple[list[dict] | None, int]:
    if not exists(conn, "marts.fact_readings"):
        return None, 0
    rows = _rows(
        conn,
        "select title, doi, year from marts.fact_readings where student_id = %s and not has_notes"
        " order by year desc nulls last, title",
        (student_id,),
    )
    return rows[:READINGS_SHOWN], max(0, len(rows) - READINGS_SHOWN)


def new_summaries(conn, student_id: str, since: dt.datetime) -> list[dict] | None:
    if not exists(conn, "ai.note_summaries"):
        return None
    rows = _rows(
        conn,
        "select coalesce(title, note_path) as title, course_code, summary, flashcards, provider"
        " from ai.note_summaries where student_id = %s and status = 'ok' and summarised_at >= %s"
        " order by summarised_at desc, note_path limit 10",
        (student_id, since),
    )
    for r in rows:
        r["flashcards"] = r["flashcards"] if isinstance(r["flashcards"], list) else json.loads(r["flashcards"] or "[]")
    return rows


def previous_digest_at(conn, kind: str, recipient_id: str, period_key: str) -> dt.datetime | None:
    with conn.cursor() as cur:
        cur.execute(
            "select max(created_at) from meta.digest_outbox where digest_kind = %s and recipient_id = %s and period_key < %s",
            (kind, recipient_id, period_key),
        )
        return cur.fetchone()[0]


def newly_high_risk(conn) -> list[dict] | None:
    """Students whose latest churn score is in the high tier and whose previous one was not."""
    if not exists(conn, "ml.churn_scores"):
        return None
    rows = _rows(
        conn,
        """
        with ranked as (
            select student_id::text as student_id, as_of_date, probability, risk_tier, reasons,
                   row_number() over (partition by student_id order by as_of_date desc) as n
            from ml.churn_scores
        )
        select cur.student_id, cur.as_of_date, cur.probability, cur.reasons
        from ranked cur left join ranked prev on prev.student_id = cur.student_id and prev.n = 2
        where cur.n = 1 and cur.risk_tier = 'high' and coalesce(prev.risk_tier, '') <> 'high'
        order by cur.probability desc, cur.student_id
        """,
        (),
    )
    for r in rows:
        reasons = r.pop("reasons") or []
        if isinstance(reasons, str):
            reasons = json.loads(reasons)
        r["reason"] = (reasons[0].get("text") or reasons[0].get("feature")) if reasons else ""
    return rows


def open_alerts(conn) -> list[dict] | None:
    if not exists(conn, "meta.alerts"):
        return None
    return _rows(
        conn,
        "select severity, alert_type, entity_type, entity_id, summary, created_at from meta.alerts"
        " where status = 'open' order by case severity when 'critical' then 0 when 'warning' then 1 else 2 end,"
        " created_at desc limit 50",
        (),
    )
