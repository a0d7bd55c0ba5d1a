"""Which Postgres server StudentOps talks to, and the URLs of its three databases.

`STUDENTOPS_DATABASE_URL` set: that server (must have pgvector) holds the `warehouse` database it
names; Dagster's instance storage goes to `STUDENTOPS_DAGSTER_DATABASE_URL`, or the `dagster`
database on the same server; the platform source to `STUDENTOPS_PLATFORM_URL`, or `platform` there.
Unset: the embedded server under `$STUDENTOPS_HOME` is started (idempotently) and used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg2
from psycopg2 import sql

from studentops_assets.core.errors import StudentOpsError
from studentops_assets.core.settings import StudentOpsConfig, load_config

from .embedded_postgres import EmbeddedPostgres, EmbeddedServerInfo

BOOTSTRAP_SQL = Path(__file__).with_name("sql") / "warehouse_bootstrap.sql"


@dataclass(frozen=True)
class ServerUrls:
    warehouse: str
    dagster: str
    platform: str
    embedded: EmbeddedServerInfo | None

    def describe(self) -> str:
        return redact(self.warehouse)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def redact(url: str) -> str:
    """The URL with its password hidden, wherever libpq would read it from (userinfo or ?password=)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(":" + parts.password + "@", ":***@", 1)
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


@dataclass(frozen=True)
class PgParams:
    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_url(cls, url: str) -> "PgParams":
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise StudentOpsError(f"not a postgresql:// URL: {redact(url)}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=(parts.path or "/").lstrip("/") or "postgres",
        )

    def url(self) -> str:
        return f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/{self.database}"


def embedded_server(config: StudentOpsConfig) -> EmbeddedPostgres:
    return EmbeddedPostgres(config.home, config.port)


def resolve_urls(config: StudentOpsConfig | None = None, external: str | None = None) -> ServerUrls:
    """Resolve (and with the embedded default, start) the server. Cheap when it already runs."""
    config = config or load_config()
    external = external or os.environ.get("STUDENTOPS_DATABASE_URL")
    if external:
        return ServerUrls(
            warehouse=external,
            dagster=os.environ.get("STUDENTOPS_DAGSTER_DATABASE_URL") or with_database(external, "dagster"),
            platform=os.environ.get("STUDENTOPS_PLATFORM_URL") or with_database(external, config.platform_database),
            embedded=None,
        )
    info = embedded_server(config).start()
    return ServerUrls(
        warehouse=info.url("warehouse"),
        dagster=info.url("dagster"),
        platform=os.environ.get("STUDENTOPS_PLATFORM_URL") or info.url(config.platform_database),
        embedded=info,
    )


def connect(url: str, **kwargs):
    try:
        return psycopg2.connect(url, connect_timeout=10, **kwargs)
    except psycopg2.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StudentOpsError(f"cannot connect to Postgres at {redact(url)}: {reason}") from None


def ensure_database(urls: ServerUrls, url: str) -> None:
    """Create the database `url` names if it is missing (the embedded server, or an external one
    where our role may create databases)."""
    name = PgParams.from_url(url).database
    if urls.embedded is not None:
        # On the embedded server the superuser creates it over the owner-only socket.
        conn = psycopg2.connect(urls.embedded.superuser_dsn(), connect_timeout=10)
    else:
        conn = connect(with_database(url, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone():
                return
            owner = PgParams.from_url(url).user
            try:
                cur.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(owner)))
            except psycopg2.Error as exc:
                raise StudentOpsError(
                    f"database {name!r} does not exist on {redact(url)} and cannot be created: {exc.pgerror or exc}"
                ) from None
    finally:
        conn.close()


def prepare_warehouse(url: str) -> None:
    """Check pgvector and create the schemas and `meta` tables (idempotent)."""
    conn = connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select installed_version from pg_available_extensions where name = 'vector'")
            row = cur.fetchone()
            if row is None:
                raise StudentOpsError(
                    f"pgvector is not available on {redact(url)}: install the `vector` extension on that "
                    "server (https://github.com/pgvector/pgvector), or unset STUDENTOPS_DATABASE_URL to use "
                    "the embedded Postgres"
                )
            if row[0] is None:
                try:
                    cur.execute("create extension if not exists vector")
                except psycopg2.Error as exc:
                    raise StudentOpsError(
                        f"pgvector is installed on {redact(url)} but `create extension vector` failed "
                        f"({(exc.pgerror or str(exc)).strip()}); ask a superuser to run it in this database"
                    ) from None
            cur.execute(BOOTSTRAP_SQL.read_text(encoding="utf-8"))
    finally:
        conn.close()


@lru_cache(maxsize=None)
def _ready_urls(home: str, external: str | None) -> ServerUrls:
    urls = resolve_urls(load_config(Path(home)), external)
    prepare_warehouse(urls.warehouse)
    return urls


def ready_urls(config: StudentOpsConfig | None = None, external: str | None = None) -> ServerUrls:
    """resolve_urls + prepare_warehouse, once per process (run workers call this per resource)."""
    config = config or load_config()
    external = external or os.environ.get("STUDENTOPS_DATABASE_URL")
    urls = _ready_urls(str(config.home), external)
    if urls.embedded is not None and not embedded_server(config).is_running():
        # The server was stopped since: start it again rather than failing the step.
        _ready_urls.cache_clear()
        urls = _ready_urls(str(config.home), external)
    return urls
