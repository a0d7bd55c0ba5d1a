"""Machine-readable logs: JSON lines under $STUDENTOPS_HOME/logs/ for the runs, the CLI and the daemon.

A real materialisation through `studentops materialize` (raw/notes only: cheap) and a real `studentops
dev` (webserver and daemon) on the same home; every file is parsed line by line.
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from studentops_assets.core.logs import scrub

from ..conftest import free_port, start_dev

ADA = "0b9a4a8e-5c63-4b43-9e55-1c7f0f3b0a01"
REQUIRED = {"timestamp", "level", "logger", "message", "source"}


def _records(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines, f"{path} is empty"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in records:
        assert isinstance(record, dict) and REQUIRED <= set(record), record
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"]), record
        assert record["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, record
    return records


@pytest.fixture(scope="module")
def home(new_home):
    home, _ = new_home(students=[{"id": ADA, "slug": "ada", "name": "Ada", "vault": "vault/ada"}])
    note = home.path / "vault" / "ada" / "courses" / "algebra" / "week-1.md"
    note.parent.mkdir(parents=True)
    note.write_text("---\ncourse: algebra\n---\n# Week 1\n\nGroups and rings.\n", encoding="utf-8")
    return home


@pytest.fixture(scope="module")
def materialised(home):
    result = home.cli("materialize", "--select", "key:raw/notes")
    run_id = re.search(r"\(run ([0-9a-f-]{36})\)", result.stdout).group(1)
    return run_id, result


def test_a_run_logs_json_lines_with_its_run_id_steps_and_asset_key(home, materialised):
    run_id, result = materialised
    assert "runs.jsonl" in result.stdout  # the CLI says where the JSON lines are
    runs = _records(home.path / "logs" / "runs.jsonl")
    mine = [r for r in runs if r.get("run_id") == run_id]
    assert mine, "no record of the run"
    assert all(r["job"] == mine[0]["job"] for r in mine)
    # Records of the run worker and of the step, told apart by `source`.
    assert {"run", "step"} <= {r["source"] for r in mine}
    step_records = [r for r in mine if r["source"] == "step"]
    assert all(r["step_key"] for r in step_records)
    materialised_keys = [r["asset_keys"] for r in mine if r.get("event_type") == "ASSET_MATERIALIZATION"]
    assert materialised_keys == [["raw/notes"]]
    assert any(r.get("event_type") == "RUN_SUCCESS" for r in mine)
    # The message is what was logged, not Dagster's "job - run_id - step - message" line.
    assert not any(r["message"].startswith(f"{r['job']} - {run_id}") for r in mine)


def test_the_cli_logs_which_run_it_started_for_which_assets(home, materialised):
    run_id, _ = materialised
    cli = _records(home.path / "logs" / "cli.jsonl")
    finished = [r for r in cli if r.get("run_id") == run_id]
    assert finished and all(r["source"] == "cli" for r in finished)
    assert finished[-1]["asset_keys"] == ["raw/notes"] and "succeeded" in finished[-1]["message"]


def test_the_logs_carry_no_password_nor_the_students_email(home, materialised):
    password = urlparse(home.db_url()).password
    assert password
    for path in (home.path / "logs").glob("*.jsonl"):
        text = path.read_text(encoding="utf-8")
        assert password not in text, path.name


def test_scrub_removes_passwords_secrets_and_emails(monkeypatch):
    monkeypatch.setenv("STUDENTOPS_FAKE_API_KEY", "sk-fake-0123456789")
    text = scrub(
        "connecting to postgresql://studentops:s3cret-pw@127.0.0.1:5432/warehouse "
        "(host=db password=other-pw) with key sk-fake-0123456789 for ada@example.edu"
    )
    assert "s3cret-pw" not in text and "other-pw" not in text and "sk-fake-0123456789" not in text
    assert "ada@example.edu" not in text
    # What is not secret stays readable.
    assert "postgresql://studentops:***@127.0.0.1:5432/warehouse" in text and "host=db" in text


def test_dev_writes_the_daemon_and_webserver_logs_as_json_lines(home):
    logs = home.path / "logs"
    port = free_port()
    proc, lines = start_dev(home, port)
    try:
        assert any("Dagster UI on" in line for line in lines), "".join(lines)
        # The daemon logs its start (the daemons it runs) once its code location has loaded.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (logs / "daemon.jsonl").exists():
            time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        lines.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    daemon = _records(logs / "daemon.jsonl")
    assert {r["source"] for r in daemon} == {"daemon"}
    # Parsed from the daemon's own JSON records: its loggers, not one catch-all.
    assert any(r["logger"].startswith("dagster.daemon") for r in daemon), daemon[:5]
    webserver = _records(logs / "webserver.jsonl")
    assert {r["source"] for r in webserver} == {"webserver"}
    # The terminal stays readable: the records are shown as lines, not as JSON.
    output = "".join(lines)
    assert not any(line.lstrip().startswith('{"') for line in output.splitlines()), output[-2000:]
    assert re.search(r"^\d\d:\d\d:\d\d daemon ", output, re.MULTILINE), output[-2000:]
