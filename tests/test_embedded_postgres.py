"""The embedded server: TCP + socket, password auth on TCP, idempotent start, stale pid, clean stop."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import psycopg2
import pytest

from resources.embedded_postgres import EmbeddedPostgres
from studentops_assets.core.errors import StudentOpsError

from .conftest import free_port


@pytest.fixture
def server(tmp_path):
    pg = EmbeddedPostgres(tmp_path, free_port())
    yield pg
    pg.stop()


def test_start_is_idempotent_and_serves_tcp_with_password_and_pgvector(server):
    first = server.start()
    again = server.start()
    assert first.started_now and not again.started_now
    assert again.pid == first.pid

    conn = psycopg2.connect(first.url("warehouse"))
    with conn, conn.cursor() as cur:
        cur.execute("select current_user, current_database(), inet_server_addr()::text, "
                    "(select extversion from pg_extension where extname = 'vector'), "
                    "current_setting('server_version_num')::int")
        user, database, address, vector, version = cur.fetchone()
        cur.execute("select '[1,2,3]'::vector <-> '[1,2,4]'::vector")
        distance = cur.fetchone()[0]
    conn.close()
    assert (user, database, address) == ("studentops", "warehouse", "127.0.0.1/32")
    assert vector is not None and version >= 180000
    assert distance == pytest.approx(1.0)

    dagster_db = psycopg2.connect(first.url("dagster"))
    dagster_db.close()


def test_tcp_rejects_wrong_password_and_the_superuser(server):
    info = server.start()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(info.url("warehouse", password="wrong"))
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(f"postgresql://postgres:guess@127.0.0.1:{info.port}/postgres")


def test_unix_socket_is_owner_only_and_accepts_local_connections(server):
    info = server.start()
    socket_file = info.socket_dir / f".s.PGSQL.{info.port}"
    assert socket_file.exists()
    assert socket_file.stat().st_mode & 0o077 == 0
    conn = psycopg2.connect(info.superuser_dsn("warehouse"))
    with conn.cursor() as cur:
        cur.execute("select inet_server_addr()")  # null over a unix socket
        assert cur.fetchone()[0] is None
    conn.close()


def test_stale_pid_file_is_replaced(server):
    info = server.start()
    assert server.stop()
    pid_file = server.pgdata / "postmaster.pid"
    assert not pid_file.exists()
    # A pid file left by a crash, naming a live process that is not postgres (this test runner).
    pid_file.write_text(f"{os.getpid()}\n{server.pgdata}\n0\n{info.port}\n\n\n\n")
    restarted = server.start()
    assert restarted.started_now and restarted.pid != os.getpid()
    psycopg2.connect(restarted.url("warehouse")).close()


def test_stop_is_clean_and_repeatable(server):
    info = server.start()
    assert server.stop() is True
    assert server.stop() is False
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(info.url("warehouse"), connect_timeout=3)
    log = (server.log_file).read_text()
    assert "database system is shut down" in log


def test_port_in_use_is_one_clear_error(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(StudentOpsError, match=rf"port {port} on 127.0.0.1 is already in use"):
            EmbeddedPostgres(tmp_path, port).start()
