"""Importing the code location has no side effects; loading it reads studentops.yaml, then.

Each check runs in a fresh interpreter on a copy of the source tree (what a read-only image holds: the
code and the parsed dbt manifest), with an empty STUDENTOPS_HOME and a PATH without the venv. Tests
run as root here, so the copy's read-only mode would not stop a write: every file of the copy and of
the home is compared before and after instead, and an audit hook records every file opened for
writing, every directory made and every process started.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SOURCE = ("studentops_assets", "resources", "sensors", "dbt", "dagster.yaml", "workspace.yaml", "pyproject.toml")
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"

# Runs in the child. Prints one JSON object: what importing did, then what loading gave.
PROBE = r"""
import gc, json, os, sys

events = {"writes": [], "mkdirs": [], "processes": [], "yaml_reads": []}

def audit(event, args):
    if event == "open" and args[0] is not None and not isinstance(args[0], int):
        path, mode, flags = str(args[0]), args[1] or "", args[2] or 0
        # /dev/null is where some libraries point a stream they silence: not a file.
        writing = any(m in mode for m in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if writing and path != "/dev/null":
            events["writes"].append(path)
        if path.endswith("studentops.yaml"):
            events["yaml_reads"].append(path)
    elif event in ("os.mkdir", "os.rename", "os.remove", "os.symlink"):
        events["mkdirs"].append(f"{event} {args[0]}")
    elif event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.system"):
        events["processes"].append(f"{event} {args[0]!r} {args[1] if len(args) > 1 else ''!r}"[:300])

path_before = os.environ["PATH"]
sys.addaudithook(audit)
import studentops_assets.definitions as definitions
imported = dict({k: list(v) for k, v in events.items()}, module=definitions.__file__, path_changed=os.environ["PATH"] != path_before,
                freeze_count=gc.get_freeze_count())

loads = []
for home in sys.argv[1:]:
    os.environ["STUDENTOPS_HOME"] = home
    try:
        defs = definitions.code_location()
    except Exception as exc:
        loads.append({"error": f"{type(exc).__name__}: {exc}"})
        continue
    repo = defs.get_repository_def()
    features = repo.assets_defs_by_key[definitions.dg.AssetKey(["ml", "student_features"])]
    churn = repo.asset_graph.get(definitions.dg.AssetKey(["ml", "churn_model"]))
    loads.append({
        "schedules": {s.name: s.execution_timezone for s in repo.schedule_defs},
        "partitions_timezone": features.partitions_def.timezone,
        "churn_model_freshness_timezone": churn.freshness_policy.timezone,
        "marts_freshness_timezone": repo.asset_graph.get(
            definitions.dg.AssetKey(["marts", "fact_study_sessions"])).freshness_policy.timezone,
    })
print("PROBE " + json.dumps({"imported": imported, "loads": loads}))
"""


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def _read_only(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A read-only copy of the source tree with the dbt manifest parsed, as the image ships it."""
    from studentops_assets.warehouse.project import prepare_manifest

    prepare_manifest()  # what `studentops materialize` and the image build do before any load
    root = tmp_path_factory.mktemp("tree") / "app"
    root.mkdir()
    for name in SOURCE:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("dbt.log", "logs"))
        else:
            shutil.copy2(src, root / name)
    _read_only(root)
    yield root
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def _home(tmp_path: Path, name: str, config: str | None) -> Path:
    home = tmp_path / name
    home.mkdir()
    if config is not None:
        (home / "studentops.yaml").write_text(config)
    return home


def _probe(tree: Path, import_home: Path, *load_homes: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDENTOPS_", "DAGSTER_", "VIRTUAL_ENV"))}
    env.update(PATH=CLEAN_PATH, PYTHONPATH=str(tree), STUDENTOPS_HOME=str(import_home), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, load_homes)],
        cwd=tree, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("PROBE "))
    return json.loads(line.removeprefix("PROBE "))


def test_import_has_no_side_effects_and_load_reads_the_config_then(tree, tmp_path):
    broken = _home(tmp_path, "broken", "timezone: [Europe/Berlin\nstudents: {\n")
    berlin = _home(tmp_path, "berlin", "timezone: Europe/Berlin\n")
    tree_before, home_before = _files(tree), _files(broken)

    probe = _probe(tree, broken, broken, berlin)
    imported = probe["imported"]

    # The code that ran is the read-only copy's, not the checkout's.
    assert imported["module"].startswith(str(tree))
    assert imported["yaml_reads"] == []
    assert imported["writes"] == [] and imported["mkdirs"] == []
    # No dbt. (A library's import runs `file` on the interpreter: platform.architecture().)
    assert [p for p in imported["processes"] if "dbt" in p] == []
    assert imported["path_changed"] is False
    assert imported["freeze_count"] == 0
    # Nothing appeared or changed in the tree or the home (dlt folders, dbt's target, bytecode).
    assert _files(tree) == tree_before
    assert _files(broken) == home_before

    # Loading reads studentops.yaml: the broken one fails with the config error, naming the file.
    failed, loaded = probe["loads"]
    assert "StudentOpsError" in failed["error"] and "not valid YAML" in failed["error"]
    assert str(broken / "studentops.yaml") in failed["error"]
    # The same process then loads a good home, from the read-only tree, without touching it.
    assert set(loaded["schedules"].values()) == {"Europe/Berlin"}
    assert _files(tree) == tree_before


def test_two_homes_give_two_timezones_in_one_process(tree, tmp_path):
    empty = _home(tmp_path, "empty", None)
    berlin = _home(tmp_path, "berlin", "timezone: Europe/Berlin\n")
    tokyo = _home(tmp_path, "tokyo", "timezone: Asia/Tokyo\n")

    probe = _probe(tree, empty, berlin, tokyo)
    assert probe["imported"]["yaml_reads"] == [] and probe["imported"]["writes"] == []
    for load, zone in zip(probe["loads"], ["Europe/Berlin", "Asia/Tokyo"]):
        assert "error" not in load, load
        # Every schedule (ingestion, dbt, ml, ai, digests, retention) runs in the home's timezone.
        assert load["schedules"], "no schedules loaded"
        assert set(load["schedules"].values()) == {zone}, load["schedules"]
        assert {"ingest_sources_schedule", "ml_daily_churn_scoring_schedule", "daily_digest_schedule",
                "instance_retention_schedule"} <= set(load["schedules"])
        # The weekly feature partitions and the cron freshness deadlines too.
        assert load["partitions_timezone"] == zone
        assert load["churn_model_freshness_timezone"] == zone
        assert load["marts_freshness_timezone"] == zone


def test_dagster_loads_the_lazy_definitions_from_the_module(tree, tmp_path):
    """`dagster definitions validate -m studentops_assets.definitions`: Dagster's own loader finds the
    `@dg.definitions` object in the module, from the read-only tree, with a PATH without the venv."""
    home = _home(tmp_path, "home", "timezone: Asia/Tokyo\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDENTOPS_", "DAGSTER_"))}
    # An instance of its own: the tree's dagster.yaml is the Postgres-backed one `studentops` sets up.
    instance = tmp_path / "dagster_home"
    instance.mkdir()
    env.update(PATH=CLEAN_PATH, PYTHONPATH=str(tree), STUDENTOPS_HOME=str(home), PYTHONDONTWRITEBYTECODE="1",
               DAGSTER_HOME=str(instance))
    before = _files(tree)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-m", "studentops_assets.definitions"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "Validation successful" in done.stdout + done.stderr
    assert _files(tree) == before


FORKSERVER_PROBE = r"""
import gc, json, multiprocessing

import studentops_assets.definitions as definitions

# As the executor does (definitions.STEP_EXECUTOR): steps fork from a forkserver preloading this module.
context = multiprocessing.get_context("forkserver")
context.set_forkserver_preload([definitions.STEP_FORKSERVER_MODULE])
with context.Pool(1) as pool:
    step_freeze_count = pool.apply(gc.get_freeze_count)
print("PROBE " + json.dumps({"step": step_freeze_count, "here": gc.get_freeze_count()}))
"""


def test_steps_start_from_definitions_built_and_frozen_in_the_forkserver(tmp_path):
    """The fork speed-up happens where the steps start: the forkserver has built the definitions and
    frozen them out of the garbage collector; the process that launched it froze nothing."""
    home = _home(tmp_path, "home", "timezone: Europe/Berlin\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDENTOPS_", "DAGSTER_"))}
    env.update(STUDENTOPS_HOME=str(home))
    done = subprocess.run([sys.executable, "-c", FORKSERVER_PROBE], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(next(l for l in done.stdout.splitlines() if l.startswith("PROBE ")).removeprefix("PROBE "))
    assert probe["here"] == 0
    # Tens of thousands of objects: dagster, dlt, the dbt manifest and the built definitions.
    assert probe["step"] > 10_000
