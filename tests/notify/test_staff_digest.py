"""The staff digest reads the ML helper's contract tables only when they exist."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from resources.mailer import MailerResource
from studentops_assets.notify.assets import staff_digests

NEWLY_HIGH = "aaaaaaaa-0000-4000-8000-000000000001"
ALREADY_HIGH = "aaaaaaaa-0000-4000-8000-000000000002"
STAYS_LOW = "aaaaaaaa-0000-4000-8000-000000000003"


def _run(warehouse, day):
    result = dg.materialize([staff_digests], resources={"warehouse": warehouse, "mailer": MailerResource()},
                            run_config={"ops": {"meta__staff_digests": {"config": {"day": day}}}},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success


def test_staff_digest_lists_students_newly_at_high_risk_and_open_alerts(new_home):
    home, warehouse = new_home(students=[], notify={"staff_emails": ["staff@example.test"]})
    _run(warehouse, "2026-12-01")  # before ml.churn_scores exists: the section says so, nothing fails
    (html_path,), = home.query("select html_path from meta.digest_outbox where period_key = '2026-12-01'")[0:1]
    assert "No churn scores yet" in Path(html_path).read_text()

    home.query("""
        create table ml.churn_scores (student_id uuid, as_of_date date, probability double precision,
            risk_tier text, model_version text, reasons jsonb, scored_at timestamptz default now())""")
    home.query("""
        insert into ml.churn_scores (student_id, as_of_date, probability, risk_tier, model_version, reasons) values
        (%(a)s, '2026-11-23', 0.40, 'medium', 'v1', '[]'),
        (%(a)s, '2026-11-30', 0.81, 'high', 'v1', '[{"feature": "active_minutes_14d", "contribution": 0.3, "text": "No activity for 14 days"}]'),
        (%(b)s, '2026-11-23', 0.90, 'high', 'v1', '[]'),
        (%(b)s, '2026-11-30', 0.92, 'high', 'v1', '[]'),
        (%(c)s, '2026-11-30', 0.05, 'low', 'v1', '[]')""", {"a": NEWLY_HIGH, "b": ALREADY_HIGH, "c": STAYS_LOW})
    home.query("""
        insert into meta.alerts (alert_type, severity, entity_type, entity_id, status, summary) values
        ('churn_high_risk', 'warning', 'student', %s, 'open', 'Student entered the high churn tier'),
        ('run_failure', 'critical', 'job', 'nightly_refresh', 'resolved', 'Old failure, resolved')""", (NEWLY_HIGH,))
    _run(warehouse, "2026-12-02")
    (text, html_path, email), = home.query(
        "select body_text, html_path, recipient_email from meta.digest_outbox where period_key = '2026-12-02'")
    assert email == "staff@example.test"
    assert NEWLY_HIGH in text and "81%" in text and "No activity for 14 days" in text
    assert ALREADY_HIGH not in text and STAYS_LOW not in text
    assert "Student entered the high churn tier" in text and "Old failure" not in text
    assert "staff@example.test" not in Path(html_path).read_text()
