"""`studentops bench`: it measures a replication it has checked, in a home of its own.

No timing is asserted here (figures on a shared CI machine mean nothing); what is asserted is that
the benchmark compares like with like: every round re-syncs all platform rows from scratch, the
replicas are exact copies, the incremental round reads only a delta, and the gate fails the command.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Home, free_port


def test_bench_reports_a_verified_replication_and_gates_on_the_ratio(tmp_path):
    home = Home(tmp_path / "home", free_port())
    # An impossible gate: the report is still printed and saved, then the command fails.
    result = home.cli("bench", "--students", "60", "--days", "21", "--repeat", "2", "--min-ratio", "1000",
                      check=False, timeout=900)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "below --min-ratio" in result.stderr
    assert "replication throughput =" in result.stdout

    report = json.loads(Path(result.stdout.split("results: ")[1].splitlines()[0]).read_text())
    rows = report["platform_rows"]
    assert rows > 1_000
    assert len(report["copy_seconds"]) == 2
    assert [run["rows"] for run in report["first_syncs"]] == [rows, rows]
    assert all(set(run["stages"]) == {"extract", "normalize", "load"} for run in report["first_syncs"])
    assert 0 < report["throughput_ratio"] < 1000

    delta = report["delta"]
    assert delta["user_tasks deleted"] > 0 and delta["points_transactions inserted"] > 0
    changed = sum(n for name, n in delta.items() if not name.endswith("deleted"))
    assert changed <= report["incremental"]["rows"] < rows / 4

    # Its own home and server: the user's home got no embedded server or Dagster instance of its own.
    assert (home.path / "bench" / "home" / "studentops.yaml").exists()
    assert not (home.path / "postgres").exists()
    assert not (home.path / "dagster").exists()
