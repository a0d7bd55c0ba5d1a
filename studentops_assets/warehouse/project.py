"""The dbt project in `dbt/`, shared by the assets, the CLI and the tests.

Nothing here runs at import. The manifest is prepared by `studentops materialize` / `studentops dev`
and by the image build (Dockerfile); the code location only reads it when it loads.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from functools import cache, cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtCliResource, DbtProject
from packaging import version

from studentops_assets.core.instance import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt"
PARTIAL_PARSE = "partial_parse.msgpack"
# What `dbt parse` leaves in the target directory that later commands read; the manifest goes last,
# so whoever sees the new manifest also finds the partial-parse state that belongs to it.
PARSE_ARTIFACTS = (PARTIAL_PARSE, "semantic_manifest.json", "manifest.json")


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
        # dbt writes manifest.json in place. Two commands on different homes (their connection
        # variables differ, so each parses) once had one read the manifest while the other was
        # writing it: half a JSON file. So dbt parses into a scratch target directory of its own (with
        # the partial-parse state copied in, to stay a partial parse), and the results are renamed
        # into place: a reader sees the old file or the new one, whole.
        target = Path(project.project_dir) / project.target_path
        target.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".parse-", dir=target))
        try:
            if (target / PARTIAL_PARSE).exists():
                shutil.copy2(target / PARTIAL_PARSE, scratch / PARTIAL_PARSE)
            scratch_project = DbtProject(project_dir=project.project_dir, profiles_dir=project.profiles_dir,
                                         target_path=Path(project.target_path) / scratch.name)
            WarehouseDbtCliResource(project_dir=scratch_project, dbt_executable=dbt_executable()).cli(
                ["parse", "--quiet"], target_path=scratch_project.target_path
            ).wait()
            self._invalidate_seeds_in_partial_parse(scratch_project)
            for name in PARSE_ARTIFACTS:
                if (scratch / name).exists():
                    os.replace(scratch / name, target / name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def prepare_manifest() -> None:
    """Parse the dbt project now (`studentops materialize` does, before loading the definitions; the
    image build does, so the code location starts without running dbt)."""
    prepare_if_changed(_project())


# What a parse depends on besides the project's files: the variables profiles.yml and the models read
# (a changed connection or timezone makes dbt throw its partial parse away in the step) and dbt itself.
_PARSE_ENV = ("STUDENTOPS_PGHOST", "STUDENTOPS_PGPORT", "STUDENTOPS_PGUSER", "STUDENTOPS_PGPASSWORD",
              "STUDENTOPS_PGDATABASE", "STUDENTOPS_TIMEZONE")
_NOT_PROJECT_FILES = frozenset({"target", "logs", "dbt_packages"})
PARSE_STAMP = "studentops-parse.sha256"


def parse_fingerprint(project: DbtProject) -> str:
    """A hash of every project file's path, size and modification time, the parse's variables and the
    dbt version: equal fingerprints mean a parse now would produce the manifest that is already there.
    Only a hash is kept, so the password in the variables is never written out."""
    digest = hashlib.sha256(installed_version("dbt-core").encode())
    root = Path(project.project_dir)
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in _NOT_PROJECT_FILES or not path.is_file():
            continue
        stat = path.stat()
        digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    for name in _PARSE_ENV:
        digest.update(f"{name}={os.environ.get(name, '')}\n".encode())
    return digest.hexdigest()


def prepare_if_changed(project: DbtProject) -> bool:
    """Parse unless the manifest was parsed from these very files and variables; True if it parsed.

    Every `studentops materialize` used to start dbt to parse, although dbt's partial parse then found
    nothing to do: a whole dbt start-up (seconds, tens of seconds on a loaded machine) per command."""
    stamp = Path(project.project_dir) / project.target_path / PARSE_STAMP
    fingerprint = parse_fingerprint(project)
    if project.manifest_path.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == fingerprint:
        return False
    _VenvDbtPreparer().prepare(project)
    scratch = stamp.with_name(f"{stamp.name}.{os.getpid()}")
    scratch.write_text(fingerprint, encoding="utf-8")
    os.replace(scratch, stamp)
    return True


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
