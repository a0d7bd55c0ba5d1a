"""Connection-URL helpers shared by the storage, loaders and CLI."""

from __future__ import annotations


def sqlalchemy_psycopg2_url(url: str) -> str:
    """SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which is not installed and whose
    server-side parameter binding breaks dagster-postgres's queries; everything here uses psycopg2."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg2://{rest}" if sep and scheme in ("postgresql", "postgres") else url
