"""The warehouse as a Dagster resource: one place that knows how to reach Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import dagster as dg
import psycopg2
from pydantic import Field

from studentops_assets.core.settings import StudentOpsConfig, load_config

from .postgres_server import PgParams, ServerUrls, ready_urls


class WarehouseResource(dg.ConfigurableResource):
    """The Postgres (+ pgvector) warehouse.

    `database_url` is bound to `dg.EnvVar("STUDENTOPS_DATABASE_URL")` when that variable is set, so the
    UI shows the variable's name, never the URL. Unset, the embedded server under STUDENTOPS_HOME is
    started on first use (idempotently: an already running server is reused).
    """

    database_url: Optional[str] = Field(default=None, description="External Postgres URL (secret)")
    home: Optional[str] = Field(default=None, description="STUDENTOPS_HOME; defaults to the environment")

    def settings(self) -> StudentOpsConfig:
        return load_config(Path(self.home) if self.home else None)

    def urls(self) -> ServerUrls:
        return ready_urls(self.settings(), self.database_url)

    def url(self) -> str:
        return self.urls().warehouse

    @contextmanager
    def connection(self) -> Iterator["psycopg2.extensions.connection"]:
        """A psycopg2 connection that is closed on exit (psycopg2's own `with conn` only commits)."""
        conn = psycopg2.connect(self.url(), connect_timeout=10)
        try:
            yield conn
        finally:
            conn.close()

    def dlt_credentials(self) -> str:
        return self.url()

    def dbt_env(self) -> dict[str, str]:
        """Environment read by dbt/profiles.yml (the same variables `studentops db-url --env` prints)."""
        params = PgParams.from_url(self.url())
        return {
            "STUDENTOPS_PGHOST": params.host,
            "STUDENTOPS_PGPORT": str(params.port),
            "STUDENTOPS_PGUSER": params.user,
            "STUDENTOPS_PGPASSWORD": params.password,
            "STUDENTOPS_PGDATABASE": params.database,
        }
