"""The Dagster instance: DAGSTER_HOME under STUDENTOPS_HOME, storage in the `dagster` Postgres database."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import StudentOpsError
from .urls import sqlalchemy_psycopg2_url
from .settings import StudentOpsConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_DAGSTER_YAML = REPO_ROOT / "dagster.yaml"


def dagster_home(config: StudentOpsConfig) -> Path:
    return config.home / "dagster"


def prepare_dagster_home(config: StudentOpsConfig, dagster_database_url: str) -> Path:
    """Point DAGSTER_HOME at $STUDENTOPS_HOME/dagster, linked to the repo's dagster.yaml, and export the
    storage URL the YAML reads. Child processes (webserver, daemon, run workers) inherit both."""
    if not REPO_DAGSTER_YAML.exists():
        raise StudentOpsError(f"{REPO_DAGSTER_YAML} is missing: run studentops from a checkout of the repository")
    home = dagster_home(config)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if target.is_symlink() and target.resolve() == REPO_DAGSTER_YAML:
        pass
    else:
        if target.exists() or target.is_symlink():
            target.unlink()
        try:
            target.symlink_to(REPO_DAGSTER_YAML)
        except OSError:
            # Filesystems without symlinks get a copy, refreshed on every CLI start.
            shutil.copyfile(REPO_DAGSTER_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["STUDENTOPS_DAGSTER_DATABASE_URL"] = sqlalchemy_psycopg2_url(dagster_database_url)
    return home
