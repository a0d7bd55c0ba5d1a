"""`studentops_bi`: the read-only role BI tools connect with. It reads `marts` and `ml`, nothing else."""

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
HIDDEN_SCHEMAS = ("raw", "staging", "snapshots", "meta")


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
            cur.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(app.database), role))
            for schema in HIDDEN_SCHEMAS:
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
    return PgParams(app.host, app.port, BI_ROLE, password, app.database).url()
