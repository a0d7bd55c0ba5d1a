"""The Dagster UI on the materialised demo, driven in a real browser (Debian's chromium).

The webserver and the daemon run on the shared demo's instance. Before the daemon starts, every
sensor and schedule is stopped through the webserver's GraphQL API (what the UI's toggles do), so the
daemon only evaluates freshness here and never writes into the demo other tests read. Screenshots go
to `.ci/artifacts/ui/`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from studentops_assets.core.urls import sqlalchemy_psycopg2_url
from tests.conftest import REPO_ROOT, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / ".ci" / "artifacts" / "ui"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)")


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body["errors"]
    return body["data"]


INSTIGATORS = """
query { repositoriesOrError { ... on RepositoryConnection { nodes {
  name sensors { id name sensorState { status } } schedules { id name scheduleState { status } } } } } }
"""
STOP_SENSOR = "mutation($id: String) { stopSensor(id: $id) { __typename } }"
STOP_SCHEDULE = "mutation($id: String) { stopRunningSchedule(id: $id) { __typename } }"


def start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, cwd=REPO_ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


@pytest.fixture(scope="module")
def ui(shared_demo, tmp_path_factory):
    logs = tmp_path_factory.mktemp("ui-logs")
    env = shared_demo.env(
        DAGSTER_HOME=str(shared_demo.path / "dagster"),
        STUDENTOPS_DAGSTER_DATABASE_URL=sqlalchemy_psycopg2_url(shared_demo.db_url("--database", "dagster")),
        FRESHNESS_DAEMON_INTERVAL_SECONDS="5",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    webserver = start([str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                      env, logs / "webserver.log")
    daemon = None
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{base}/server_info", timeout=5)
                break
            except OSError:
                assert webserver.poll() is None, (logs / "webserver.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "webserver did not answer in 180 s"
                time.sleep(1)
        (repo,) = graphql(base, INSTIGATORS)["repositoriesOrError"]["nodes"]
        for sensor in repo["sensors"]:
            graphql(base, STOP_SENSOR, {"id": sensor["id"]})
        for schedule in repo["schedules"]:
            graphql(base, STOP_SCHEDULE, {"id": schedule["id"]})
        (repo,) = graphql(base, INSTIGATORS)["repositoriesOrError"]["nodes"]
        assert {s["sensorState"]["status"] for s in repo["sensors"]} <= {"STOPPED"}
        assert {s["scheduleState"]["status"] for s in repo["schedules"]} <= {"STOPPED"}
        daemon = start([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, logs / "daemon.log")
        yield base, repo
    finally:
        for process in (daemon, webserver):
            if process is not None:
                stop(process)


@pytest.fixture(scope="module")
def chromium_browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def ui_page(chromium_browser):
    page = chromium_browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(60_000)
    yield page
    page.close()


def test_asset_graph_shows_every_group_and_its_assets(ui, ui_page):
    from studentops_assets.definitions import defs

    page, (base, _) = ui_page, ui
    graph = defs.get_repository_def().asset_graph
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    page.goto(f"{base}/asset-groups", wait_until="networkidle")
    for group in sorted(groups):
        page.get_by_text(group, exact=True).first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "asset-graph.png"))
    page.goto(f"{base}/assets", wait_until="networkidle")
    page.get_by_text("fact_study_sessions").first.wait_for()
    # The catalog fills in each asset's status after the list renders ("Loading..." until then).
    page.get_by_text("Materialized").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "asset-catalog.png"))


def test_asset_page_shows_checks_and_freshness(ui, ui_page):
    page, (base, _) = ui_page, ui
    page.goto(f"{base}/assets/marts/fact_study_sessions", wait_until="networkidle")
    page.get_by_text("Latest materialization").wait_for()
    # The daemon evaluates the freshness policy (every 5 s here); the page then shows its state.
    freshness = page.get_by_text("Passing").first
    deadline = time.monotonic() + 120
    while not freshness.is_visible():
        assert time.monotonic() < deadline, "freshness state never rendered"
        page.wait_for_timeout(3000)
        page.reload(wait_until="networkidle")
        freshness = page.get_by_text("Passing").first
    body = page.inner_text("body")
    assert "Freshness policy" in body and "Row count" in body
    page.screenshot(path=str(ARTIFACTS / "fact_study_sessions.png"), full_page=True)

    page.goto(f"{base}/assets/marts/fact_study_sessions?view=checks", wait_until="networkidle")
    page.get_by_text("gx_study_sessions").first.wait_for()
    checks = page.inner_text("body")
    assert "Succeeded" in checks and "Failed" not in checks
    page.screenshot(path=str(ARTIFACTS / "fact_study_sessions-checks.png"), full_page=True)


def test_automation_page_lists_sensors_and_schedules(ui, ui_page):
    page, (base, repo) = ui_page, ui
    page.goto(f"{base}/automation", wait_until="networkidle")
    for instigator in [*repo["sensors"], *repo["schedules"]]:
        page.get_by_text(instigator["name"], exact=True).first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "automation.png"), full_page=True)
