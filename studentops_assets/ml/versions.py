"""Model versions: fitted pipelines as files with their content hash, recorded in `ml.model_versions`.

A version is immutable once written: its file is named by version id, its SHA-256 is stored beside
it, and loading a version refuses a file whose hash has changed. Exactly one version per model name
is `production`; promoting another (the gate, or `studentops model promote` for a rollback) retires
the previous one in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional

import dagster as dg
import joblib
from pydantic import Field

from studentops_assets.core.errors import StudentOpsError
from studentops_assets.core.settings import studentops_home

CHURN_MODEL = "churn"

DDL = """
create schema if not exists ml;
create table if not exists ml.model_versions (
    version          text primary key,
    model_name       text        not null,
    family           text        not null,
    status           text        not null check (status in ('candidate', 'production', 'retired', 'rejected')),
    trained_at       timestamptz not null,
    params           jsonb       not null,
    features         jsonb       not null,
    train_start      date,
    train_end        date,
    test_start       date,
    test_end         date,
    metrics          jsonb       not null,
    challenger_metrics jsonb,
    gate             jsonb,
    artifact_path    text        not null,
    artifact_sha256  text        not null,
    promoted_at      timestamptz
);
create unique index if not exists model_versions_one_production
    on ml.model_versions (model_name) where status = 'production';
comment on table ml.model_versions is
    'Every trained model: parameters, ordered features, training window, holdout metrics, artifact file and hash.';
"""


class ArtifactStore(dg.ConfigurableResource):
    """Where fitted models are kept as files: `STUDENTOPS_HOME/artifacts` unless `root` says otherwise."""

    root: Optional[str] = Field(default=None, description="Artifact directory (default STUDENTOPS_HOME/artifacts)")

    def path(self) -> Path:
        root = self.root or os.environ.get("STUDENTOPS_ARTIFACTS") or str(studentops_home() / "artifacts")
        return Path(root).expanduser().resolve()

    def save(self, model_name: str, version: str, obj: Any) -> tuple[Path, str]:
        folder = self.path() / model_name
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{version}.joblib"
        tmp = target.with_suffix(".tmp")
        joblib.dump(obj, tmp)
        os.replace(tmp, target)
        return target, sha256(target)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_artifact(row: dict) -> Any:
    path = Path(row["artifact_path"])
    if not path.exists():
        raise StudentOpsError(f"model {row['version']}: artifact {path} is missing")
    actual = sha256(path)
    if actual != row["artifact_sha256"]:
        raise StudentOpsError(f"model {row['version']}: artifact {path} changed (sha256 {actual[:12]}, "
                              f"recorded {row['artifact_sha256'][:12]}); refusing to load it")
    return joblib.load(path)


def ensure_table(conn) -> None:
    with conn.cursor() as cur:
        cur.execute(DDL)


_COLUMNS = ("version", "model_name", "family", "status", "trained_at", "params", "features", "train_start",
            "train_end", "test_start", "test_end", "metrics", "challenger_metrics", "gate", "artifact_path",
            "artifact_sha256", "promoted_at")


def _row(record) -> dict:
    return dict(zip(_COLUMNS, record))


def list_versions(conn, model_name: str = CHURN_MODEL) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute("select to_regclass('ml.model_versions')")
        if cur.fetchone()[0] is None:
            return []
        cur.execute(f"select {', '.join(_COLUMNS)} from ml.model_versions where model_name = %s "
                    "order by trained_at, version", (model_name,))
        return [_row(r) for r in cur.fetchall()]


def production(conn, model_name: str = CHURN_MODEL) -> dict | None:
    with conn.cursor() as cur:
        cur.execute("select to_regclass('ml.model_versions')")
        if cur.fetchone()[0] is None:
            return None
        cur.execute(f"select {', '.join(_COLUMNS)} from ml.model_versions where model_name = %s "
                    "and status = 'production'", (model_name,))
        row = cur.fetchone()
        return _row(row) if row else None


def record(conn, **values) -> None:
    values = {k: (json.dumps(v, default=str) if k in ("params", "features", "metrics", "challenger_metrics", "gate")
                  and v is not None else v) for k, v in values.items()}
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with conn.cursor() as cur:
        cur.execute(f"insert into ml.model_versions ({cols}) values ({marks})", list(values.values()))


def promote(conn, version: str, model_name: str = CHURN_MODEL) -> tuple[str | None, dict]:
    """Make `version` production (its artifact must still match its hash); the previous production
    version is retired. Returns (previous version, the promoted row). Caller commits."""
    with conn.cursor() as cur:
        cur.execute(f"select {', '.join(_COLUMNS)} from ml.model_versions where version = %s and model_name = %s "
                    "for update", (version, model_name))
        found = cur.fetchone()
        if found is None:
            raise StudentOpsError(f"no {model_name} model version {version!r} (see `studentops model list`)")
        row = _row(found)
        load_artifact(row)  # refuses a missing or altered file before anything changes
        current = production(conn, model_name)
        if current and current["version"] == version:
            return version, row
        cur.execute("update ml.model_versions set status = 'retired' where model_name = %s and status = 'production'",
                    (model_name,))
        cur.execute("update ml.model_versions set status = 'production', promoted_at = %s where version = %s",
                    (dt.datetime.now(dt.timezone.utc), version))
    return (current["version"] if current else None), row
