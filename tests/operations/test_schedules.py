"""Schedules, automation sensors and freshness policies: each targets its part of the graph, in the
study timezone read from studentops.yaml when the code location loads."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg

from tests.conftest import REPO_ROOT

PROBE = """
import json
from studentops_assets.definitions import defs
repo = defs.get_repository_def()
graph = repo.asset_graph
out = {"schedules": {s.name: [s.cron_schedule, s.execution_timezone, s.job_name] for s in repo.schedule_defs},
       "fact": graph.get(__import__("dagster").AssetKey(["marts", "fact_citations"])).freshness_policy.timezone}
print(json.dumps(out))
"""


def load_with_timezone(tmp_path, timezone: str | None) -> dict:
    (tmp_path / "studentops.yaml").write_text(f"timezone: {timezone}\n" if timezone else "{}\n")
    env = {"PATH": "/usr/bin:/bin", "STUDENTOPS_HOME": str(tmp_path), "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_schedules_run_in_the_configured_study_timezone(tmp_path):
    tokyo = load_with_timezone(tmp_path, "Asia/Tokyo")
    assert tokyo["schedules"]["ingest_sources_schedule"] == ["30 6 * * *", "Asia/Tokyo", "ingest_sources"]
    assert tokyo["schedules"]["warehouse_build_schedule"] == ["45 6 * * *", "Asia/Tokyo", "warehouse_build"]
    assert tokyo["fact"] == "Asia/Tokyo"
    default = load_with_timezone(tmp_path, None)
    assert {tz for _, tz, _ in default["schedules"].values()} == {"Australia/Adelaide"}


def test_each_schedule_targets_only_its_part_of_the_graph():
    from studentops_assets.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    groups = lambda job: {graph.get(k).group_name for k in repo.get_job(job).asset_layer.selected_asset_keys}
    assert groups("ingest_sources") == {"notes", "calendar", "references", "platform"}
    assert groups("warehouse_build") == {"warehouse"}
    assert repo.get_job("ingest_sources").op_retry_policy.backoff == dg.Backoff.EXPONENTIAL


def test_automation_sensors_cover_every_asset_once_and_run_by_default():
    from studentops_assets.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    sensors = [s for s in repo.sensor_defs if isinstance(s, dg.AutomationConditionSensorDefinition)]
    assert {s.name for s in sensors} == {"automation_loads", "automation_dbt", "automation_ml"}
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors)
    covered = [key for s in sensors for key in s.asset_selection.resolve(graph)]
    assert sorted(covered) == sorted(graph.get_all_asset_keys())
    # dbt models react to new raw data; raw loaders do not run eagerly.
    assert graph.get(dg.AssetKey(["marts", "fact_citations"])).automation_condition is not None
    assert graph.get(dg.AssetKey(["raw", "bibtex_entries"])).automation_condition is None


def test_freshness_policies_follow_each_groups_schedule():
    from studentops_assets.definitions import defs

    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name in {"platform", "warehouse", "notes", "calendar", "references"}:
            policy = node.freshness_policy
            assert isinstance(policy, dg.FreshnessPolicy) and getattr(policy, "deadline_cron", None) == "0 7 * * *", key
