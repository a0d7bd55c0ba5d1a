"""The BI role (`studentops db-url --bi`) reads marts and ml and nothing else: every refusal an analyst
could stumble on or try is proven here against the shared, materialised demo."""

from __future__ import annotations

import re

import psycopg2
import pytest

from resources.postgres_server import with_database

PERSONAL = re.compile(r"(^|_)(e_?mail|first_name|last_name|full_name|user_name|student_name|phone)($|_)")


@pytest.fixture(scope="module")
def bi_url(shared_demo):
    url = shared_demo.db_url("--bi")
    assert "studentops_bi" in url
    return url


def _connect(url):
    conn = psycopg2.connect(url, connect_timeout=10)
    conn.autocommit = True
    return conn


def test_bi_reads_the_gold_layer(shared_demo, bi_url):
    assert shared_demo.query("select count(*) from marts.dim_students", url=bi_url)[0][0] == 300
    assert shared_demo.query("select count(*) from marts.fact_daily_engagement", url=bi_url)[0][0] > 0


def test_bi_cannot_create_temp_tables_even_in_a_read_write_transaction(bi_url):
    conn = psycopg2.connect(bi_url, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("rollback; begin read write")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="temporary"):
                cur.execute("create temp table scratch (x int)")
    finally:
        conn.close()


@pytest.mark.parametrize("database", ["dagster", "platform", "postgres"])
def test_bi_cannot_connect_to_other_databases(bi_url, database):
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        _connect(with_database(bi_url, database)).close()


def test_the_owner_still_reaches_every_database(shared_demo):
    owner = shared_demo.db_url()
    for database in ("dagster", "platform", "postgres"):
        _connect(with_database(owner, database)).close()


def test_bi_reads_no_personal_data(shared_demo, bi_url):
    # Nothing the role can select has a personal-data column ...
    readable = shared_demo.query(
        """
        select c.table_schema, c.table_name, c.column_name
        from information_schema.columns as c
        where c.table_schema not in ('pg_catalog', 'information_schema')
          and has_column_privilege('studentops_bi', format('%I.%I', c.table_schema, c.table_name), c.column_name, 'SELECT')
        """
    )
    assert {schema for schema, _, _ in readable} <= {"marts", "ml"}
    assert {(t, c) for _, t, c in readable if "student_id" == c}, "the facts are readable"
    assert [row for row in readable if PERSONAL.search(row[2])] == []
    # ... the e-mail left the gold layer for `private`, which the owner reads and the BI role does not.
    with pytest.raises(psycopg2.errors.UndefinedColumn):
        shared_demo.query("select email from marts.dim_students", url=bi_url)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        shared_demo.query("select email from private.student_contacts", url=bi_url)
    emails = shared_demo.query("select count(*), count(distinct email) from private.student_contacts")
    assert emails == [(300, 300)]


@pytest.mark.parametrize(
    "statement",
    [
        "select * from raw.notes",
        "select * from staging.stg_platform_users",
        "select * from meta.quarantine",
        "select * from private.student_contacts",
        "create table public.mine (x int)",
    ],
)
def test_bi_is_refused_outside_marts_and_ml(shared_demo, bi_url, statement):
    with pytest.raises((psycopg2.errors.InsufficientPrivilege, psycopg2.errors.ReadOnlySqlTransaction)):
        shared_demo.query(statement, url=bi_url)


def test_bi_cannot_write_even_when_it_asks_for_a_read_write_transaction(bi_url):
    conn = psycopg2.connect(bi_url, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute("rollback; begin read write")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("delete from marts.dim_courses")
    finally:
        conn.close()


def test_bi_uses_no_schema_but_marts_and_ml(shared_demo):
    """The grant model is "marts + ml readable, nothing else": no schema of the warehouse (raw,
    staging, snapshots, meta, private, and any a domain adds later) is usable by the role unless it
    is granted, and only marts and ml are. `public` is PUBLIC's, empty, and closed to CREATE."""
    usable = {name for (name,) in shared_demo.query(
        "select nspname from pg_namespace where has_schema_privilege('studentops_bi', oid, 'USAGE')")}
    assert usable - {"pg_catalog", "information_schema", "public"} <= {"marts", "ml"}
    assert "marts" in usable
    assert shared_demo.query("select has_schema_privilege('studentops_bi', 'public', 'CREATE')") == [(False,)]
