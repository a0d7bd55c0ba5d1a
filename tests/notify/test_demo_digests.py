"""The demo without keys (the shared materialised demo): extractive summaries, and one daily digest
per demo student recorded in the outbox with its HTML file."""

from __future__ import annotations

from pathlib import Path

import yaml


def test_demo_writes_extractive_summaries_without_invented_flashcards(shared_demo):
    rows = shared_demo.query(
        "select provider, status, count(*), count(summary), max(jsonb_array_length(flashcards)),"
        " min(jsonb_array_length(key_terms)) from ai.note_summaries group by 1, 2")
    notes = shared_demo.query("select count(*) from raw.notes where not coalesce(_deleted, false)")[0][0]
    assert notes > 0
    ok = [r for r in rows if r[1] == "ok"]
    assert [r[0] for r in rows] == ["extractive"] * len(rows)  # provider = extractive on every row
    assert sum(r[2] for r in rows) == notes and ok and ok[0][3] == ok[0][2]
    assert max(r[4] for r in rows) == 0  # no flashcards offline
    assert ok[0][5] > 0
    # Every summary is made of the note's own sentences.
    for summary, body in shared_demo.query(
            "select s.summary, n.body from ai.note_summaries s join raw.notes n on n._natural_key = s.note_key"
            " where s.status = 'ok' limit 20"):
        first = summary.split(". ")[0].strip(". ")
        assert " ".join(first.split()[:4]) in " ".join(body.replace("*", "").replace("#", "").split())
    weeks = shared_demo.query("select provider, count(*) from ai.course_weekly_summaries group by 1")
    assert weeks and {p for p, _ in weeks} == {"extractive"}
    assert shared_demo.query("select count(*) from meta.ai_usage")[0][0] == 0  # no key, no calls


def test_demo_records_one_daily_digest_per_student_with_its_html(shared_demo):
    config = yaml.safe_load((shared_demo.path / "studentops.yaml").read_text())
    students = {s["id"] for s in config["students"]}
    rows = shared_demo.query(
        "select recipient_id, period_key, status, attempts, html_path, body_text, recipient_email"
        " from meta.digest_outbox where digest_kind = 'daily'")
    assert len(students) == 3 and {r[0] for r in rows} == students and len(rows) == len(students)
    assert len({r[1] for r in rows}) == 1
    for recipient, _, status, attempts, html_path, text, email in rows:
        # No RESEND_API_KEY: rendered and recorded, status queued, never attempted.
        assert (status, attempts) == ("queued", 0)
        html = Path(html_path)
        assert html.is_file() and html.is_relative_to(shared_demo.path / "artifacts")
        page = html.read_text()
        assert "Due in the next 7 days" in page and "Study hours by course" in page
        assert "Readings without notes" in page and "New summaries and flashcards" in page
        assert "STUDY HOURS BY COURSE" in text
        assert email and email not in page and email not in text
    # The BI role cannot read the private AI outputs or the outbox.
    bi = shared_demo.db_url("--bi")
    for relation in ("ai.note_summaries", "meta.digest_outbox"):
        try:
            shared_demo.query(f"select 1 from {relation} limit 1", url=bi)
        except Exception as exc:  # noqa: BLE001
            assert "permission denied" in str(exc)
        else:
            raise AssertionError(f"the BI role can read {relation}")
