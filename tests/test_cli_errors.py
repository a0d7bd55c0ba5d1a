"""Failures a user can meet end in one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import socket

import pytest

from .conftest import Home, free_port


def one_line_error(result) -> str:
    assert result.returncode != 0
    lines = [l for l in result.stderr.splitlines() if l.strip() and not l.startswith("studentops: note:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("studentops: error: ")
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def test_bad_config_file(tmp_path):
    home = Home(tmp_path, free_port())
    (tmp_path / "studentops.yaml").write_text("students: [\n  - id: 1\n")
    line = one_line_error(home.cli("db-url", check=False))
    assert "studentops.yaml" in line and "not valid YAML" in line


def test_warehouse_port_taken(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        home = Home(tmp_path, squatter.getsockname()[1])
        line = one_line_error(home.cli("materialize", check=False))
    assert f"port {home.port} on 127.0.0.1 is already in use" in line


def test_unreachable_external_database_does_not_print_the_password(tmp_path):
    home = Home(tmp_path, free_port())
    url = f"postgresql://someone:s3cret-value@127.0.0.1:{free_port()}/warehouse"
    line = one_line_error(home.cli("materialize", check=False, STUDENTOPS_DATABASE_URL=url))
    assert "cannot connect to Postgres at postgresql://someone:***@127.0.0.1" in line
    assert "s3cret-value" not in line
    assert not (tmp_path / "postgres").exists(), "an external URL must not start the embedded server"


def test_bad_selection(session_home):
    line = one_line_error(session_home.cli("materialize", "--select", "key:no/such_asset", check=False))
    assert "matches no asset" in line or "bad --select" in line


def test_dev_port_taken(session_home):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        line = one_line_error(session_home.cli("dev", "--port", str(port), check=False))
    assert f"port {port} is already in use" in line


def test_external_server_mode_uses_the_given_server(session_home, tmp_path):
    """STUDENTOPS_DATABASE_URL pointing at a running server (here: another home's embedded one)."""
    url = session_home.db_url()
    other = Home(tmp_path, free_port())
    printed = other.cli("db-url", STUDENTOPS_DATABASE_URL=url).stdout.strip()
    assert printed == url
    assert not (tmp_path / "postgres").exists()


def test_demo_refuses_a_platform_database_it_did_not_create(tmp_path):
    home = Home(tmp_path, free_port())
    warehouse = home.db_url()
    home.query("create database platform", url=warehouse)
    platform = home.db_url("--database", "platform")
    home.query("create table users (id int primary key); insert into users values (1)", url=platform)
    line = one_line_error(home.cli("demo", "--students", "5", "--days", "3", check=False))
    assert "already holds 1 tables that the demo did not create" in line and "--force" in line
    assert home.query("select count(*) from users", url=platform) == [(1,)]
    home.stop()
