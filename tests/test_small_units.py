"""Small pure functions whose mistakes would leak a secret or fail a whole load."""

from __future__ import annotations

from resources.postgres_server import PgParams, redact
from studentops_assets.core.quarantine import Issue, QuarantineBatch


def test_redact_hides_passwords_in_userinfo_and_query():
    assert redact("postgresql://u:s3cret@db:5432/w") == "postgresql://u:***@db:5432/w"
    assert redact("postgresql://u@db/w?sslmode=require&password=s3cret") == "postgresql://u@db/w?sslmode=require&password=***"
    assert "s3cret" not in redact("postgresql://u:s3cret@db/w?password=s3cret")
    assert PgParams.from_url("postgresql://u:p%40ss@db:6543/w").password == "p@ss"


def test_the_same_problem_twice_in_a_file_is_one_quarantine_row():
    batch = QuarantineBatch("zotero")
    batch.record("s1", "lib", [Issue("extra", "not a DOI"), Issue("extra", "not a DOI", "x"), Issue("title", "empty")])
    assert [(i.location, i.reason) for i in batch.files[("s1", "lib")]] == [("extra", "not a DOI"), ("title", "empty")]
