"""The dbt project in `dbt/`, shared by the assets, the CLI and the tests.

Nothing here runs at import. The manifest is prepared by `studentops materialize` / `studentops dev`
and by the image build (Dockerfile); the code location only reads it when it loads.
"""

from __future__ import annotations

import shutil
import sys
from functools import cache, cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtCliResource, DbtProject
from packaging import version

from studentops_assets.core.instance import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt"


def dbt_executable() -> str:
    """dbt-core installed beside this interpreter (the venv's bin/), else `dbt` on PATH (the image).

    Passed to every dbt invocation instead of putting the venv on PATH: a venv that was not activated
    does not have dbt on PATH, and changing the process's PATH at import leaked into everything else
    it ran."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


class WarehouseDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, minus one dbt start per step: to tell dbt Core from dbt Fusion it runs
    `dbt --version` in a subprocess (a whole dbt start-up, seconds on a loaded machine) before every
    invocation. The dbt beside this interpreter is the dbt-core installed here, whose version the
    package metadata gives at once; any other executable is asked as dagster-dbt asks it."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return version.parse(installed_version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        # dagster-dbt loads the profile and project and registers a dbt adapter in the step process
        # before every invocation (seconds), only for `fetch_row_counts()` / `fetch_column_metadata()`.
        # The warehouse steps read that metadata on their own connection (metadata.py), so no adapter.
        return None


class _VenvDbtPreparer(DagsterDbtProjectPreparer):
    """dagster-dbt's preparer (deps, parse, its concurrent-update guard, the seeds' partial-parse fix),
    with dbt run from `dbt_executable()`: dagster-dbt's own preparation looks `dbt` up on PATH."""

    def _prepare_packages(self, project: DbtProject) -> None:
        WarehouseDbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["deps", "--quiet"], target_path=project.target_path
        ).wait()

    def _prepare_manifest(self, project: DbtProject) -> None:
        WarehouseDbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
        self._invalidate_seeds_in_partial_parse(project)


def _project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare_manifest() -> None:
    """Parse the dbt project now (`studentops materialize` does, before loading the definitions; the
    image build does, so the code location starts without running dbt)."""
    _VenvDbtPreparer().prepare(_project())


@cache
def warehouse_dbt_project() -> DbtProject:
    """The project as the code location loads it (never at import). Under `dagster dev` the manifest
    is re-parsed so edits to models show up; elsewhere a missing manifest (a fresh clone that has not
    run `studentops materialize` yet) is parsed once. The image ships a parsed manifest, so a
    read-only container never parses."""
    project = _project()
    preparer = _VenvDbtPreparer()
    preparer.prepare_if_dev(project)
    if not project.manifest_path.exists():
        preparer.prepare(project)
    return project
