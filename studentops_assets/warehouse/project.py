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


@cache
def warehouse_dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    # Under `dagster dev` the manifest is re-parsed at load so edits to models show up; elsewhere a
    # missing manifest (a fresh clone) is parsed once. `studentops materialize` always re-parses.
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
    return project
