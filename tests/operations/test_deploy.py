"""The deployment files name what the code reads: one image, one module, the same ports and variables.

Images cannot be built and Kubernetes is not reachable on these machines, so this checks what can be
checked: the compose file and the Helm values parse and agree with the code and with each other, the
Dockerfile installs dependencies before copying the source and runs unprivileged, and the image's
dependency install step resolves in a fresh virtualenv.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
CODE_DIRS = ("studentops_assets", "resources", "sensors")
# Variables read by a library rather than by our code (the SDKs' own conventions, Dagster's home).
READ_BY_LIBRARIES = {"ANTHROPIC_API_KEY", "RESEND_API_KEY", "DAGSTER_HOME"}


def module_name() -> str:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]


def variables_read_by_code() -> set[str]:
    names: set[str] = set()
    for folder in CODE_DIRS:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"\b(?:STUDENTOPS|ANTHROPIC|RESEND)_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    names |= set(re.findall(r"env: (STUDENTOPS_[A-Z_]+)", (REPO_ROOT / "dagster.yaml").read_text()))
    return names


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def test_compose_runs_webserver_daemon_and_code_server_from_one_image(compose):
    services = compose["services"]
    assert {"postgres", "code", "webserver", "daemon"} <= set(services)
    images = {services[name]["image"] for name in ("code", "webserver", "daemon", "init")}
    assert images == {"studentops:latest"}
    assert "pgvector" in services["postgres"]["image"]
    code = services["code"]["command"]
    assert code[:3] == ["dagster", "code-server", "start"] and code[code.index("-m") + 1] == module_name()
    # Separate processes, not `dagster dev`.
    assert services["webserver"]["command"][0] == "dagster-webserver"
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert not any("dev" in services[name]["command"] for name in ("code", "webserver", "daemon"))


def test_compose_ports_and_workspace_agree(compose):
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    (server,) = [entry["grpc_server"] for entry in workspace["load_from"]]
    services = compose["services"]
    code = services["code"]["command"]
    assert server["host"] == "code" and str(server["port"]) == code[code.index("-p") + 1]
    assert server["location_name"] == "studentops"
    for name in ("webserver", "daemon"):
        command = services[name]["command"]
        assert command[command.index("-w") + 1] == "/app/deploy/workspace.yaml"
    web = services["webserver"]["command"]
    assert services["webserver"]["ports"] == [f"{web[web.index('-p') + 1]}:{web[web.index('-p') + 1]}"]
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^EXPOSE 3000 4000$", dockerfile, re.M)


def test_compose_variables_are_the_ones_the_code_reads(compose):
    read = variables_read_by_code() | READ_BY_LIBRARIES
    env = compose["services"]["code"]["environment"]
    assert set(env) <= read, set(env) - read
    # The warehouse and the instance storage are the compose Postgres, in the databases its init
    # script creates.
    init_sql = (DEPLOY / "postgres-init.sql").read_text()
    for variable, database in (("STUDENTOPS_DATABASE_URL", "warehouse"), ("STUDENTOPS_DAGSTER_DATABASE_URL", "dagster")):
        assert re.fullmatch(rf"postgresql://studentops:\$\{{POSTGRES_PASSWORD[^}}]*\}}@postgres:5432/{database}", env[variable])
        assert f"create database {database};" in init_sql
    # Secrets come from the environment, never written into the file.
    for name in ("STUDENTOPS_BI_PASSWORD", "ANTHROPIC_API_KEY", "RESEND_API_KEY"):
        assert env[name].startswith("${"), name


def test_helm_values_use_the_image_module_and_secrets(values):
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module_name()]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlDatabase"] == "dagster"
    secret = "studentops-secrets"
    assert {"name": secret} in deployment["envSecrets"]
    assert {"name": secret} in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    # The secret's keys are variables the code (or its SDKs) reads; no real value is committed.
    keys = {}
    for line in (DEPLOY / "helm" / "secret.example.env").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            keys[name] = value
    assert set(keys) <= variables_read_by_code() | READ_BY_LIBRARIES
    assert "STUDENTOPS_DATABASE_URL" in keys
    assert all(not v or "CHANGE-ME" in v for v in keys.values())
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["STUDENTOPS_HOME"] == "/data"
    assert deployment["securityContext"]["runAsUser"] == 10001


def test_dockerfile_installs_dependencies_before_the_source_and_runs_unprivileged():
    lines = [l for l in (REPO_ROOT / "Dockerfile").read_text().splitlines() if l and not l.startswith("#")]
    index = {name: next(i for i, l in enumerate(lines) if l.startswith(name)) for name in (
        "RUN python deploy/install_deps.py", "COPY studentops_assets", "USER studentops", "CMD")}
    assert index["RUN python deploy/install_deps.py"] < index["COPY studentops_assets"] < index["USER studentops"] < index["CMD"]
    assert "prepare_manifest()" in "\n".join(lines)
    assert re.search(r"useradd .*--uid 10001 studentops", "\n".join(lines))
    cmd = lines[index["CMD"]]
    assert '"code-server"' in cmd and f'"{module_name()}"' in cmd


def test_image_dependency_step_resolves_in_a_fresh_virtualenv(tmp_path):
    """The Dockerfile's install step, run with --dry-run in an empty virtualenv (no container engine)."""
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    result = subprocess.run(
        [str(python), str(DEPLOY / "install_deps.py"), "--dry-run"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    bad = subprocess.run([str(python), str(DEPLOY / "install_deps.py"), "--dry-run", "--extra", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "unknown extras" in bad.stderr
