"""The suite does not depend on the caller's environment: with STUDENTOPS_PG_PORT exported (the
README's answer to a busy port) pointing at a port that is taken, STUDENTOPS_HOME and DAGSTER_HOME
set, tests that start servers in their own homes still pass, each on a free port of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from ..conftest import REPO_ROOT


def test_exported_studentops_variables_do_not_reach_the_tests(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {
            **os.environ,
            "STUDENTOPS_PG_PORT": str(busy.getsockname()[1]),
            "STUDENTOPS_HOME": str(tmp_path / "elsewhere"),
            "DAGSTER_HOME": str(tmp_path / "elsewhere-dagster"),
            "TMPDIR": str(tmp_path),
        }
        env.pop("PYTEST_XDIST_WORKER", None)
        # A module whose test drives an embedded server through the in-process WarehouseResource
        # (it reads STUDENTOPS_PG_PORT from the process's own environment) and the CLI.
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/references/test_first_run.py", "-n", "0", "-q",
             "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "inner")],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
    assert not (tmp_path / "elsewhere").exists()
