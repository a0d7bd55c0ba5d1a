"""Secrets never leak: the whole graph runs with a recognisable fake value in every credential variable,
each service that takes a key is a local stand-in that must receive it (so the run really used every
secret), and then everything the run left behind is searched for those values, also base64- and
URL-encoded: the Dagster instance's database (runs, tags, event log with every asset's materialisation
metadata, all tables, every column as text), the asset materialisation metadata read back through the
instance, the warehouse (every schema, `meta.*` included, every column as text), the CLI's output, and
every file under STUDENTOPS_HOME and the Dagster home (materialize logs, compute logs, dlt state,
digests), the Postgres server log included, and the files dbt wrote under dbt/target/ during the run
(its log, manifests and run results).

The platform database is reached only through STUDENTOPS_PLATFORM_URL (a read-only role's password
in a URL), as an external platform would be.

Excluded, by design: `postgres/data/` (the server's own files; their rows are searched through SQL
above, and `pg_authid` keeps a SCRAM verifier, not the password) and `postgres/*password*` files (the
server's generated passwords; not written here anyway, as STUDENTOPS_PG_PASSWORD and
STUDENTOPS_BI_PASSWORD are set). The embedder is `hashing` (no model to load: it takes no credential).
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import psycopg2
import pytest
import yaml

from tests.calendar.fake_google import CLIENT_ID, CLIENT_SECRET, FakeGoogle
from tests.conftest import REPO_ROOT, STUDENTOPS, Home, free_port
from tests.references.fake_scholarly import FakeScholarly
from tests.standins import AnthropicStandIn, ResendStandIn
from tests.zotero.fake_zotero import FakeZotero, item_key

SLUG = "gabriel"  # the demo's vault student for this seed and size (asserted below)
SECRETS = {
    "STUDENTOPS_PG_PASSWORD": "sekret-pg-owner-7f3a9",
    "STUDENTOPS_BI_PASSWORD": "sekret-bi-role-7f3a9",
    # The Google stand-in knows one OAuth client: its id and secret are the fake values.
    "STUDENTOPS_GOOGLE_CLIENT_ID": CLIENT_ID,
    "STUDENTOPS_GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
    f"STUDENTOPS_GCAL_REFRESH_TOKEN_{SLUG.upper()}": "sekret-gcal-refresh-7f3a9",
    "STUDENTOPS_ZOTERO_API_KEY": "sekretzoteroshared7f3a9",
    f"STUDENTOPS_ZOTERO_API_KEY_{SLUG.upper()}": "sekretzoterostudent7f3a9",
    "OPENALEX_API_KEY": "sekret-openalex-7f3a9",
    "ANTHROPIC_API_KEY": "sk-ant-sekret-anthropic-7f3a9",
    "RESEND_API_KEY": "re_sekret_resend_7f3a9",  # the stand-in, like Resend, wants the re_ prefix
}
# STUDENTOPS_PLATFORM_URL is a credential too: a URL with the password of a role that may only read
# the platform database, which is renamed so that nothing but that URL can reach it.
PLATFORM_PASSWORD = "sekret-platform-reader-7f3a9"
DOI = "10.5555/secrets.scan.1"


def encodings(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote_plus(value), base64.b64encode(value.encode()).decode().rstrip("=")}
    # Inside a longer base64 string the value can start at any of three offsets.
    for pad in (1, 2):
        forms.add(base64.b64encode(b"\0" * pad + value.encode()).decode().rstrip("=")[4:])
    return {f for f in forms if len(f) >= 8}


def needles() -> dict[str, str]:
    """form -> the variable it gives away."""
    values = {**SECRETS, "STUDENTOPS_PLATFORM_URL": PLATFORM_PASSWORD}
    return {form: name for name, value in values.items() for form in encodings(value)}


def external_platform(home: Home, env: dict) -> str:
    """The demo's platform database as an external one: renamed, read by its own role; its URL."""
    owner = cli(home, env, "db-url").stdout.strip()
    conn = psycopg2.connect(owner.replace("/warehouse", "/postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("alter database platform rename to platform_ext")
        cur.execute("create role platform_reader login password %s", (PLATFORM_PASSWORD,))
        cur.execute("grant connect on database platform_ext to platform_reader")
    conn.close()
    conn = psycopg2.connect(owner.replace("/warehouse", "/platform_ext"))
    conn.autocommit = True
    with conn.cursor() as cur:
        for schema in ("public", "demo_truth"):
            cur.execute(f"grant usage on schema {schema} to platform_reader")
            cur.execute(f"grant select on all tables in schema {schema} to platform_reader")
    conn.close()
    return f"postgresql://platform_reader:{PLATFORM_PASSWORD}@127.0.0.1:{home.port}/platform_ext"


def find_in(text: str, where: str) -> list[str]:
    return [f"{name} ({form!r}) in {where}" for form, name in needles().items() if form in text]


def cli(home: Home, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # Home.cli points the DOI resolvers at a closed port itself: here they are the stand-ins.
    result = subprocess.run([str(STUDENTOPS), *args], env={**home.env(), **env}, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=1800)
    assert not check or result.returncode == 0, f"studentops {args}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def leaked_run(tmp_path_factory):
    home = Home(tmp_path_factory.mktemp("secrets-home"), free_port())
    google = FakeGoogle(refresh_tokens={SECRETS[f"STUDENTOPS_GCAL_REFRESH_TOKEN_{SLUG.upper()}"]: SLUG})
    google.put(SLUG, {"id": "lecture1", "summary": "Lecture", "start": {"dateTime": "2026-11-10T10:00:00+01:00"},
                      "end": {"dateTime": "2026-11-10T11:45:00+01:00"}})
    scholarly = FakeScholarly().start()
    with FakeZotero() as zotero, AnthropicStandIn() as anthropic, ResendStandIn() as resend:
        anthropic.end_batches = True
        library = zotero.library("users", 4242, "Gabriel")
        library.write({"key": item_key(0), "itemType": "journalArticle", "title": "Secrets in the open",
                       "DOI": DOI, "date": "2024"})
        zotero.grant(SECRETS[f"STUDENTOPS_ZOTERO_API_KEY_{SLUG.upper()}"], library)
        env = dict(
            SECRETS,
            STUDENTOPS_EMBEDDER="hashing",
            STUDENTOPS_GOOGLE_API_URL=google.api_base_url,
            STUDENTOPS_GOOGLE_TOKEN_URL=google.token_url,
            STUDENTOPS_ZOTERO_URL=zotero.url,
            STUDENTOPS_OPENALEX_URL=scholarly.url("openalex"),
            STUDENTOPS_CROSSREF_URL=scholarly.url("crossref"),
            ANTHROPIC_BASE_URL=anthropic.url,
            RESEND_API_URL=resend.url,
        )
        try:
            demo = cli(home, env, "demo", "--students", "60", "--days", "60", "--seed", "7", "--vault-students", "1",
                       "--end-date", "2026-11-15")
            config = yaml.safe_load((home.path / "studentops.yaml").read_text())
            student = next(s for s in config["students"] if s.get("vault"))
            assert student["slug"] == SLUG
            student["google_calendar"] = {"calendar_id": "primary"}
            student["zotero"] = {"library_type": "user", "library_id": "4242"}
            config["notify"] = {"staff_emails": ["staff@uni.example.test"]}
            (home.path / "studentops.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
            env["STUDENTOPS_PLATFORM_URL"] = external_platform(home, env)
            started = time.time()
            result = cli(home, env, "materialize", check=False)
            bi_url = cli(home, env, "db-url", "--bi").stdout.strip()
            urls = {db: cli(home, env, "db-url", "--database", db).stdout.strip() for db in ("warehouse", "dagster")}
            yield {"home": home, "env": env, "result": result, "started": started, "outputs": demo.stdout + demo.stderr + result.stdout
                   + result.stderr, "urls": urls, "bi_url": bi_url, "google": google, "zotero": zotero,
                   "anthropic": anthropic, "resend": resend, "scholarly": scholarly}
        finally:
            scholarly.stop()
            google.close()
            cli(home, env, "stop", check=False)


def test_the_run_used_every_secret(leaked_run):
    result = leaked_run["result"]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Each stand-in was called with its secret: the scan below searches for values that were in play.
    tokens = [r for r in leaked_run["google"].log if r.kind == "token" and r.status == 200]
    assert tokens, "the Google token endpoint was never asked"
    assert leaked_run["google"].requests("events"), "no Calendar events request"
    zotero_keys = {v for r in leaked_run["zotero"].requests for k, v in r.headers.items() if k.lower() == "zotero-api-key"}
    assert SECRETS[f"STUDENTOPS_ZOTERO_API_KEY_{SLUG.upper()}"] in zotero_keys
    openalex = [r for r in leaked_run["scholarly"].requests if r.provider == "openalex"]
    assert openalex and all(r.query.get("api_key") == [SECRETS["OPENALEX_API_KEY"]] for r in openalex)
    anthropic_keys = {r["headers"].get("x-api-key") or r["headers"].get("authorization", "").removeprefix("Bearer ")
                      for r in leaked_run["anthropic"].requests}
    assert anthropic_keys == {SECRETS["ANTHROPIC_API_KEY"]}
    resend_auth = {r["headers"].get("authorization") for r in leaked_run["resend"].requests}
    assert resend_auth == {f"Bearer {SECRETS['RESEND_API_KEY']}"} and leaked_run["resend"].deliveries
    # The platform was read through STUDENTOPS_PLATFORM_URL: no other way leads to it.
    warehouse = psycopg2.connect(leaked_run["urls"]["warehouse"])
    with warehouse.cursor() as cur:
        cur.execute("select count(*) from pg_database where datname = 'platform'")
        assert cur.fetchone()[0] == 0
        cur.execute("select count(*) from raw.platform_file_viewing_sessions")
        assert cur.fetchone()[0] > 1000
    warehouse.close()
    # The owner and BI passwords are the servers' own: both roles log in with them.
    owner = psycopg2.connect(leaked_run["urls"]["warehouse"])
    bi = psycopg2.connect(leaked_run["bi_url"])
    assert owner.info.password == SECRETS["STUDENTOPS_PG_PASSWORD"] and bi.info.password == SECRETS["STUDENTOPS_BI_PASSWORD"]
    owner.close()
    bi.close()


def _rows_as_text(url: str) -> tuple[list[str], int]:
    """Every row of every table of the database, each as one text value; and how many tables."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    found: list[str] = []
    try:
        with conn.cursor() as cur:
            cur.execute("select table_schema, table_name from information_schema.tables "
                        "where table_schema not in ('pg_catalog', 'information_schema') and table_type = 'BASE TABLE'")
            tables = cur.fetchall()
            forms = list(needles())
            for schema, table in tables:
                cur.execute(f'select t::text from "{schema}"."{table}" t where t::text like any(%s)',
                            ([f"%{f}%" for f in forms],))
                found += [f"{schema}.{table}: {row[:300]}" for (row,) in cur.fetchall()]
    finally:
        conn.close()
    return found, len(tables)


def test_no_secret_in_the_instance_database(leaked_run):
    found, tables = _rows_as_text(leaked_run["urls"]["dagster"])
    assert tables >= 10 and not found, found[:5]
    conn = psycopg2.connect(leaked_run["urls"]["dagster"])
    with conn.cursor() as cur:
        cur.execute("select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'")
        assert cur.fetchone()[0] > 50  # the scan read a real run's events
    conn.close()


def test_no_secret_in_asset_metadata(leaked_run, monkeypatch):
    import dagster as dg

    from studentops_assets.core.urls import sqlalchemy_psycopg2_url

    home = leaked_run["home"]
    monkeypatch.setenv("DAGSTER_HOME", str(home.path / "dagster"))
    monkeypatch.setenv("STUDENTOPS_DAGSTER_DATABASE_URL", sqlalchemy_psycopg2_url(leaked_run["urls"]["dagster"]))
    with dg.DagsterInstance.get() as instance:
        keys = instance.get_asset_keys()
        records = {k: instance.get_latest_materialization_event(k) for k in keys}
    materialised = {k: r for k, r in records.items() if r is not None}
    assert len(materialised) > 40
    text = json.dumps({k.to_user_string(): {name: str(getattr(v, "value", v)) for name, v in
                                            r.asset_materialization.metadata.items()}
                       for k, r in materialised.items()})
    assert not find_in(text, "materialisation metadata")


def test_no_secret_in_the_warehouse(leaked_run):
    found, tables = _rows_as_text(leaked_run["urls"]["warehouse"])
    assert tables >= 20 and not found, found[:5]


def test_no_secret_in_logs_or_files(leaked_run):
    home: Home = leaked_run["home"]
    leaks = find_in(leaked_run["outputs"], "the CLI's output")
    scanned = 0
    for path in sorted(home.path.rglob("*")):
        rel = path.relative_to(home.path)
        if not path.is_file() or rel.parts[:2] == ("postgres", "data") or (
                rel.parts[0] == "postgres" and "password" in rel.name):
            continue
        data = path.read_bytes()
        leaks += find_in(data.decode("utf-8", errors="replace"), str(rel))
        scanned += 1
    # dbt writes each invocation's log, manifest and run results under the project's target/ folder.
    dbt_files = [p for p in (REPO_ROOT / "dbt" / "target").rglob("*")
                 if p.is_file() and p.stat().st_mtime >= leaked_run["started"]]
    assert any(p.name == "dbt.log" for p in dbt_files)
    for path in dbt_files:
        leaks += find_in(path.read_bytes().decode("utf-8", errors="replace"), str(path.relative_to(REPO_ROOT)))
    # The materialize log and the steps' compute logs were among them.
    assert list((home.path / "logs").glob("materialize-*.log"))
    assert [p for p in (home.path / "dagster").rglob("*") if p.suffix in (".err", ".out")]
    assert scanned > 20 and not leaks, leaks[:10]
