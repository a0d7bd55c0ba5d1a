"""The dbt project in `dbt/`, shared by the assets, the CLI and the tests."""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from studentops_assets.core.instance import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt"
# dbt-core is installed beside this interpreter (the venv's bin/); a venv that was not activated does
# not have it on PATH, and dagster-dbt's manifest preparation looks it up there.
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
if DBT_EXECUTABLE.exists() and str(DBT_EXECUTABLE.parent) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([str(DBT_EXECUTABLE.parent), os.environ.get("PATH", "")])


def _project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare_manifest() -> None:
    """Parse the dbt project now (`studentops materialize` does, before loading the definitions)."""
    project = _project()
    project.preparer.prepare(project)


@cache
def warehouse_dbt_project() -> DbtProject:
    project = _project()
    # Under `dagster dev` the manifest is re-parsed at load so edits to models show up; elsewhere a
    # missing manifest (a fresh clone) is parsed once. `studentops materialize` always re-parses.
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
    return project
