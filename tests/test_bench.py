"""`studentops bench`: the whole graph measured through Dagster, in a home of its own.

No timing is asserted here (figures on a shared CI machine mean nothing); what is asserted is that
the benchmark measures what it says: every stage of the graph ran and has its steps' time and memory,
the yardsticks are real measurements (an exact replica, a recall that is a share, a plain dbt build
of the same models), the delta run reads only the delta, and the replication gate fails the command.
The tiny profile keeps it to a few minutes: the hashing embedder instead of the model.
"""

from __future__ import annotations

import json

from studentops_assets.bench.stages import STAGES

from .conftest import Home, free_port


def test_bench_measures_every_stage_against_its_yardsticks(tmp_path):
    home = Home(tmp_path / "home", free_port())
    out = tmp_path / "bench.json"
    # An impossible gate: the report is still printed and saved, then the command fails.
    result = home.cli("bench", "--students", "30", "--days", "14", "--repeat", "1", "--vault-students", "1",
                      "--queries", "5", "--search-chunks", "2000", "--min-ratio", "1000", "--json", str(out), check=False, timeout=1800,
                      STUDENTOPS_EMBEDDER="hashing")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "below --min-ratio" in result.stderr
    assert "replication throughput =" in result.stdout
    assert "whole graph, wall (command)" in result.stdout

    report = json.loads(out.read_text())
    saved = result.stdout.split("results: ")[1].splitlines()[0]
    assert saved == str(out)
    assert list((home.path / "bench" / "results").glob("bench-*-30.json"))
    assert report["machine"]["cpus"] >= 1 and report["machine"]["memory_gib"] > 0
    rows = report["platform_rows"]
    assert rows > 1_000 and report["demo_seconds"] > 0

    replication = report["replication"]
    assert replication["rows"] == rows and replication["replicas_exact"] is True
    assert [run["rows"] for run in replication["first_syncs"]] == [rows]
    assert 0 < replication["throughput_ratio"] < 1000

    # Every stage of the graph ran in the full build, with time and memory of its own.
    full = report["full"]
    assert list(full["stages"]) == list(STAGES)
    for stage, figures in full["stages"].items():
        assert figures["seconds"] > 0 and figures["steps"] >= 1, stage
        assert 0 < figures["span_seconds"] <= full["dagster_seconds"], stage
        assert 0 < figures["peak_rss_mib"] <= full["peak_rss_mib"], stage
    assert full["command_seconds"] > full["dagster_seconds"] > 0
    # Fourteen days are too short a history for the churn model's holdout and the forecast backtest:
    # the report says their stages timed no training, and why.
    assert set(full["models_not_trained"]) == {"ml/churn_model", "ml/forecast_backtest"}
    assert "holdout" in full["models_not_trained"]["ml/churn_model"]
    assert sum(f["steps"] for f in full["stages"].values()) == full["steps"]

    # The yardsticks: a plain dbt build of the same models, exact against HNSW search, the embedder.
    dbt = report["yardsticks"]["dbt"]
    assert dbt["plain_seconds"] > 0 and dbt["dagster_seconds"] > 0 and dbt["dagster_steps"] >= 1
    dagster_models = {name.split("/")[-1] for name in full["dbt_model_seconds"]}
    assert {"fact_xp_ledger", "fact_daily_engagement", "dim_students"} <= dagster_models
    # dbt's tests as dbt timed them: every one a check named after its test, not a GX suite.
    slowest = full["dbt_slowest_tests"]
    assert len(slowest) == 10 and full["dbt_test_seconds"] >= sum(slowest.values()) > 0
    assert all(":" in name and ":gx_" not in name for name in slowest), slowest
    assert dagster_models <= set(dbt["plain_model_seconds"])
    search = report["yardsticks"]["search"]
    assert search["queries"] == 5 and search["chunks"] > 0
    assert 0 <= search["recall_at_10"] <= 1
    for name in ("hnsw", "exact", "search"):
        assert 0 < search[f"{name}_p50_ms"] <= search[f"{name}_p95_ms"], name
    # The index against an exact scan on the real vectors copied up to --search-chunks; the scratch
    # table is gone afterwards.
    scaled = report["yardsticks"]["search_scaled"]
    assert scaled["chunks"] >= 2000 and scaled["copies"] >= 2 and scaled["chunks"] == scaled["real_chunks"] * scaled["copies"]
    assert scaled["queries"] == 5 and 0 <= scaled["recall_at_10"] <= 1 and scaled["hnsw_build_seconds"] > 0
    for name in ("hnsw", "exact"):
        assert 0 < scaled[f"{name}_p50_ms"] <= scaled[f"{name}_p95_ms"], name
    first_embedding = report["yardsticks"]["embeddings"]["runs"][0]
    assert first_embedding["embedded"] == search["chunks"] and first_embedding["chunks_per_second"] > 0

    # The delta: new events reached the platform and were synced as a delta, not a full copy.
    delta = report["delta"]
    assert delta["new_events"] > 0 and delta["changes"]["user_tasks deleted"] > 0
    changed = sum(n for name, n in delta["changes"].items() if not name.endswith("deleted"))
    assert changed <= delta["platform_sync"]["rows"] < rows / 4
    assert {"platform replication", "dbt build"} <= set(delta["stages"])
    for stage, figures in delta["stages"].items():
        assert figures["seconds"] > 0 and figures["share_of_full"] > 0, stage
    assert delta["share_of_full_wall"] > 0

    # Its own home and server: the user's home got no embedded server or Dagster instance of its own.
    assert (home.path / "bench" / "home" / "studentops.yaml").exists()
    assert not (home.path / "postgres").exists()
    assert not (home.path / "dagster").exists()
