"""`studentops_bi`: the read-only role BI tools connect with. It reads `marts` and `ml`, nothing else.

The grant model is "marts + ml readable, nothing else": a schema is unreadable unless it is listed in
READABLE_SCHEMAS, so a schema another domain adds later (private tables) stays closed without a
change here. Personal data (e-mail, names) lives in `private`, never in marts. Beyond reading, the
role can do nothing: no TEMP tables (even inside `BEGIN READ WRITE`), no CREATE anywhere, and no
CONNECT to any other database of the server (dagster, platform, postgres).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from psycopg2 import sql

from studentops_assets.core.errors import StudentOpsError
from studentops_assets.core.settings import StudentOpsConfig

from .postgres_server import PgParams, ServerUrls, connect

BI_ROLE = "studentops_bi"
READABLE_SCHEMAS = ("marts", "ml")
HIDDEN_SCHEMAS = ("raw", "staging", "snapshots", "meta", "private", "public")


def _bi_password(config: StudentOpsConfig, urls: ServerUrls) -> str:
    from_env = os.environ.get("STUDENTOPS_BI_PASSWORD")
    if from_env:
        return from_env
    if urls.embedded is None:
        raise StudentOpsError("set STUDENTOPS_BI_PASSWORD to create the BI role on an external server")
    path: Path = config.home / "postgres" / "bi_password"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    generated = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process (the CLI and a code server starting together) wrote it first: use theirs.
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(generated + "\n")
    return generated


def ensure_bi_role(config: StudentOpsConfig, urls: ServerUrls) -> str:
    """Create or refresh the role and its grants (idempotent); return its URL for the warehouse."""
    password = _bi_password(config, urls)
    app = PgParams.from_url(urls.warehouse)
    conn = connect(urls.warehouse)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            # Two CLI processes starting together (two `materialize` runs) would grant at once, and
            # Postgres refuses concurrent updates of one catalog row ("tuple concurrently updated"):
            # one at a time, for as long as this connection lives.
            cur.execute("select pg_advisory_lock(hashtext('studentops_bi_role'))")
            cur.execute("select 1 from pg_roles where rolname = %s", (BI_ROLE,))
            exists = cur.fetchone() is not None
            role = sql.Identifier(BI_ROLE)
            if exists:
                cur.execute(sql.SQL("alter role {} with login password %s").format(role), (password,))
            else:
                cur.execute(
                    sql.SQL("create role {} with login nosuperuser nocreatedb nocreaterole noinherit password %s").format(role),
                    (password,),
                )
            # Even a grant added by mistake later cannot turn into a write.
            cur.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(role))
            warehouse_db = sql.Identifier(app.database)
            # PUBLIC holds TEMP and CONNECT on every new database by default; the BI role inherits
            # them through PUBLIC whatever is revoked from it directly. Take them back from PUBLIC
            # (only roles with explicit grants, the owner and superusers keep them).
            cur.execute(sql.SQL("revoke temporary on database {} from public").format(warehouse_db))
            cur.execute(sql.SQL("revoke temporary on database {} from {}").format(warehouse_db, role))
            cur.execute(sql.SQL("grant connect on database {} to {}").format(warehouse_db, role))
            if urls.embedded is None:
                _close_other_databases(cur, app.database, app.user)
            for schema in HIDDEN_SCHEMAS:
                cur.execute("select 1 from pg_namespace where nspname = %s", (schema,))
                if cur.fetchone() is not None:
                    cur.execute(sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(schema), role))
            for schema in READABLE_SCHEMAS:
                ident = sql.Identifier(schema)
                cur.execute(sql.SQL("grant usage on schema {} to {}").format(ident, role))
                cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(ident, role))
                # dbt rebuilds tables (create + rename), so grants must follow new tables automatically.
                cur.execute(
                    sql.SQL("alter default privileges in schema {} grant select on tables to {}").format(ident, role)
                )
    finally:
        conn.close()
    if urls.embedded is not None:
        # The embedded server's `postgres` database belongs to the superuser: close it (and the
        # others) over the superuser's owner-only socket.
        conn = connect(urls.embedded.superuser_dsn())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                _close_other_databases(cur, app.database, app.user)
        finally:
            conn.close()
    return PgParams(app.host, app.port, BI_ROLE, password, app.database).url()


def _close_other_databases(cur, warehouse: str, app_user: str) -> None:
    """No CONNECT (nor TEMP) on any database but the warehouse, for the BI role and for PUBLIC, which
    it would otherwise inherit them from. The app role keeps what it needs: it owns dagster and
    platform, and is granted CONNECT explicitly where it is not the owner."""
    role = sql.Identifier(BI_ROLE)
    for other, owned_by_app in _other_databases(cur, warehouse, app_user):
        ident = sql.Identifier(other)
        if not owned_by_app:
            cur.execute(sql.SQL("grant connect on database {} to {}").format(ident, sql.Identifier(app_user)))
        cur.execute(sql.SQL("revoke connect, temporary on database {} from public").format(ident))
        cur.execute(sql.SQL("revoke all on database {} from {}").format(ident, role))


def _other_databases(cur, warehouse: str, app_user: str) -> list[tuple[str, bool]]:
    """The server's other databases whose privileges this connection may change (it owns them, or is
    a superuser): on the embedded server that is every one (dagster, platform, postgres); on a shared
    external server, only those StudentOps' role owns; other owners' databases are theirs to close."""
    cur.execute(
        """
        select d.datname, pg_get_userbyid(d.datdba) = %s
        from pg_database as d
        where not d.datistemplate and d.datname <> %s
          and ((select rolsuper from pg_roles where rolname = current_user)
               or pg_has_role(current_user, d.datdba, 'USAGE'))
        order by 1
        """,
        (app_user, warehouse),
    )
    return [(name, bool(owned)) for name, owned in cur.fetchall()]
