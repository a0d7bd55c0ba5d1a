"""raw/zotero_items materialised for real (Dagster + dlt + embedded Postgres) against the fake Zotero API.

Each test gets its own STUDENTOPS_HOME and server. Rows are compared with what the fake server holds,
item by item, after faults, edits, deletions, crashes and reruns.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import dagster as dg
import psycopg2.extras
import pytest
import yaml
from dagster_dlt import DagsterDltResource
from dlt.common.versioned_state import decompress_state

from resources.zotero import ZoteroResource
from studentops_assets.zotero.assets import raw_zotero_items
from studentops_assets.zotero.definitions import defs as zotero_defs

from .fake_zotero import FakeZotero, Library, item_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zotero"
SHARED_KEY = "zkSHARED-7f3a9c1e5b2d4f6a8c0e"
GRACE_KEY = "zkGRACE-1b2c3d4e5f6a7b8c9d0e"
ADA, GRACE, HOPPER, LINUS, KAY = (f"00000000-0000-4000-8000-00000000000{i}" for i in range(1, 6))


# Helpers -----------------------------------------------------------------------------------------


def students(ada_zotero=None) -> list[dict]:
    return [
        {"id": ADA, "slug": "ada", "name": "Ada", "zotero": ada_zotero or {"library_type": "user", "library_id": "1001"}},
        {"id": GRACE, "slug": "grace", "name": "Grace", "zotero": {"library_type": "group", "library_id": 2002}},
        {"id": HOPPER, "slug": "hopper", "name": "Hopper"},
        {"id": LINUS, "slug": "linus", "name": "Linus", "zotero": {"library_type": "team", "library_id": "12a"}},
        {"id": KAY, "slug": "kay", "name": "Kay", "zotero": {"library_type": "user", "library_id": "3003"}},
    ]


def rewrite_students(home, new_students: list[dict]) -> None:
    path = home.path / "studentops.yaml"
    config = yaml.safe_load(path.read_text())
    config["students"] = new_students
    path.write_text(yaml.safe_dump(config))


def query(warehouse, sql: str, params=None) -> list[tuple]:
    with warehouse.connection() as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def resource(server: FakeZotero, **overrides) -> ZoteroResource:
    settings = dict(
        api_base_url=server.url, api_key=SHARED_KEY, timeout_seconds=1.0, max_attempts=3,
        backoff_factor=0.05, max_retry_delay_seconds=5.0,
    )
    settings.update(overrides)
    return ZoteroResource(**settings)


def materialize(warehouse, zotero: ZoteroResource, instance, expect_success: bool = True):
    result = dg.materialize(
        [raw_zotero_items, *zotero_defs.asset_checks],
        resources={"warehouse": warehouse, "dlt": DagsterDltResource(), "zotero": zotero},
        instance=instance,
        raise_on_error=False,
    )
    assert result.success is expect_success, [e.message for e in result.all_events if e.is_failure]
    return result


def statuses(result) -> dict[str, dict]:
    # The last try's: a failing step is run again by the loader's RetryPolicy, each try recording what it loaded.
    event = result.get_asset_materialization_events()[-1]
    rows = event.materialization.metadata["zotero_students"].value
    return {row["student"]: row for row in rows}


def mirror(warehouse, student_id: str) -> dict[str, tuple[int, dict]]:
    rows = query(warehouse, "select item_key, item_version, _record from raw.zotero_items where student_id = %s", (student_id,))
    assert len(rows) == len({r[0] for r in rows}), "duplicate items"
    return {key: (version, record) for key, version, record in rows}


def server_state(lib: Library) -> dict[str, tuple[int, dict]]:
    return {key: (item["version"], item["data"]) for key, item in lib.state().items()}


def cursors(warehouse) -> dict[str, dict]:
    """The library versions dlt committed to the warehouse with the rows (raw._dlt_pipeline_state)."""
    (state,) = query(
        warehouse,
        "select state from raw._dlt_pipeline_state where pipeline_name = 'studentops_zotero' "
        "order by version desc limit 1",
    )[0]
    return decompress_state(state)["sources"]["zotero"]["resources"]["zotero_items"]["libraries"]


def table_dump(warehouse, sql: str) -> list:
    with warehouse.connection() as conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql)
        return [dict(r) for r in cur.fetchall()]


def ada_library(server: FakeZotero, count: int) -> Library:
    lib = server.library("users", 1001, "Ada Lovelace")
    lib.write(
        {
            "key": item_key(0), "itemType": "journalArticle", "title": "Deep learning",
            "DOI": "https://doi.org/10.1038/NATURE14539", "date": "2015-05-27", "url": "https://www.nature.com/articles/nature14539",
            "creators": [{"creatorType": "author", "firstName": "Yann", "lastName": "LeCun"}],
            "tags": [{"tag": "deep learning"}, {"tag": "review", "type": 1}], "collections": ["COLL2345"],
        },
        {"key": item_key(1), "itemType": "book", "title": "A book with its DOI in Extra", "extra": "DOI: 10.5555/Book.42", "date": "May 2019"},
        {"key": item_key(2), "itemType": "journalArticle", "title": "Bad DOI", "DOI": "n/a"},
        {"key": item_key(3), "itemType": "note", "parentItem": item_key(0), "note": "<p><strong>Key idea</strong></p><p>Backprop &amp; depth.</p>"},
        {"key": item_key(4), "itemType": "book", "title": "Already in the trash", "deleted": 1},
        meta={"numChildren": 0},
    )
    for start in range(5, count, 10):
        lib.write(*({"key": item_key(n), "itemType": "book", "title": f"Book {n}", "date": str(1900 + n % 100)} for n in range(start, min(start + 10, count))))
    server.grant(SHARED_KEY, lib)
    return lib


def grace_library(server: FakeZotero) -> Library:
    lib = server.library("groups", 2002, "Reading Group")
    lib.add_raw(json.loads((FIXTURES / "pyzotero_item.json").read_text()))
    lib.add_raw(json.loads((FIXTURES / "pyzotero_attachments_doc.json").read_text()))
    lib.write({"key": "NOTE2345", "itemType": "note", "parentItem": "X42A7DEE", "note": "<p>Copied from a PDF:\u0000 page 3</p>"})
    server.grant(GRACE_KEY, lib)
    return lib


@pytest.fixture
def grace_key(monkeypatch):
    monkeypatch.setenv("STUDENTOPS_ZOTERO_API_KEY_GRACE", GRACE_KEY)


# Tests -------------------------------------------------------------------------------------------


def test_sync_through_faults_noop_rerun_and_incremental_changes(new_home, grace_key, caplog, capfd, tmp_path):
    caplog.set_level(logging.DEBUG)
    home, warehouse = new_home(students=students())
    instance = dg.DagsterInstance.ephemeral()
    with FakeZotero() as server:
        ada = ada_library(server, 230)
        grace = grace_library(server)
        server.library("users", 3003, "Kay")  # exists, but the shared key cannot read it: 403
        server.add_fault(action="backoff", seconds=1, library=ada.path, start=0)
        server.add_fault(action="status", status=429, headers={"Retry-After": "1"}, library=ada.path, start=100)
        server.add_fault(action="status", status=500, body="Internal Server Error", library=ada.path, start=200)
        server.add_fault(action="slow", seconds=1.6, library=grace.path)
        zotero = resource(server)

        # 1. First sync, through Backoff, 429, 500 and a timeout. Kay's library refuses the key: the
        # others load, then the step fails (red run) naming her, in every run below.
        first = materialize(warehouse, zotero, instance, expect_success=False)
        (failure,) = [e for e in first.all_events if e.event_type_value == "STEP_FAILURE"]
        assert failure.step_failure_data.user_failure_data.description.startswith(
            "Zotero unavailable: kay (users/3003): refused: GET /users/3003/items")
        assert mirror(warehouse, ADA) == server_state(ada)
        assert len(server_state(ada)) == 229  # 230 minus the trashed one
        got_grace = mirror(warehouse, GRACE)
        expected_grace = server_state(grace)
        # The NUL character cannot be stored in Postgres: removed from that note, everything else as served.
        expected_grace["NOTE2345"][1]["note"] = "<p>Copied from a PDF: page 3</p>"
        assert got_grace == expected_grace

        requests = server.take_requests()
        ada_pages = [r for r in requests if r.library == ada.path]
        assert [(r.param("start"), r.status) for r in ada_pages] == [(None, 200), ("100", 429), ("100", 200), ("200", 500), ("200", 200)]
        assert ada_pages[1].at - ada_pages[0].at >= 1.0, "Backoff: 1 was not honoured"
        assert ada_pages[2].at - ada_pages[1].at >= 1.0, "Retry-After: 1 was not honoured"
        grace_pages = [r for r in requests if r.library == grace.path]
        assert len(grace_pages) == 2 and grace_pages[1].at - grace_pages[0].at >= 0.9  # timed out, then retried
        assert all(r.headers.get("Zotero-API-Version") == "3" for r in requests)
        assert all("key" not in r.query for r in requests)

        # Extracted columns, item by item.
        rows = {
            r["item_key"]: r for r in table_dump(warehouse, f"select * from raw.zotero_items where student_id = '{ADA}'")
        }
        article = rows[item_key(0)]
        assert (article["item_type"], article["title"], article["doi"], article["date_raw"], article["year"]) == (
            "journalArticle", "Deep learning", "10.1038/nature14539", "2015-05-27", 2015)
        assert article["tags"] == ["deep learning", "review"] and article["collections"] == ["COLL2345"]
        assert article["creators"] == [{"creatorType": "author", "firstName": "Yann", "lastName": "LeCun"}]
        assert article["url"] == "https://www.nature.com/articles/nature14539"
        assert article["date_modified"] == dt.datetime(2026, 1, 5, 9, 1, tzinfo=dt.timezone.utc)
        assert (article["_natural_key"], article["library_type"], article["library_id"], article["item_version"], article["_source"]) == (
            f"{ADA}:users/1001:{item_key(0)}", "user", "1001", 1, "zotero")
        assert (rows[item_key(1)]["doi"], rows[item_key(1)]["year"]) == ("10.5555/book.42", 2019)
        assert rows[item_key(2)]["doi"] is None
        note = rows[item_key(3)]
        assert (note["item_type"], note["title"], note["note"], note["parent_item"]) == ("note", "Key idea", "Key idea\nBackprop & depth.", item_key(0))
        assert item_key(4) not in rows
        real = table_dump(warehouse, "select item_key, item_type, title, year, tags, collections, parent_item, url from raw.zotero_items "
                          f"where student_id = '{GRACE}' order by item_key")
        assert real == [
            {"item_key": "NOTE2345", "item_type": "note", "title": "Copied from a PDF: page 3", "year": None, "tags": [], "collections": [], "parent_item": "X42A7DEE", "url": None},
            {"item_key": "TM8QRS36", "item_type": "attachment", "title": "1641 Depositions", "year": None, "tags": [], "collections": [], "parent_item": "47RUN6RI", "url": "http://1641.tcd.ie/project-conservation.php"},
            {"item_key": "X42A7DEE", "item_type": "book", "title": real[2]["title"], "year": 1993, "tags": ["Analysis", "Congresses", "Electron microscopy", "Materials", "Microscopy"], "collections": ["BX9965IJ", "9KH9TNSJ"], "parent_item": None, "url": None},
        ]

        by_student = statuses(first)
        assert by_student["ada"]["status"] == "synced" and by_student["ada"]["version_after"] == ada.version
        assert (by_student["ada"]["items_loaded"], by_student["ada"]["items_removed"]) == (229, 1)
        assert by_student["grace"]["status"] == "synced"
        assert by_student["hopper"]["status"] == "not configured: no zotero section in studentops.yaml"
        assert by_student["linus"]["status"].startswith("invalid config: library_type must be 'user' or 'group'")
        assert by_student["kay"]["status"] == "refused" and "HTTP 403" in by_student["kay"]["error"]
        assert cursors(warehouse) == {f"{ADA}:users/1001": {"version": ada.version}, f"{GRACE}:groups/2002": {"version": grace.version}}
        # The failed step's downstream quarantine_rate check did not run; its own source_configured did.
        assert [(c.check_name, c.passed) for c in first.get_asset_check_evaluations()] == [("source_configured", True)]

        quarantine = query(warehouse, "select student_id, file, location, reason from meta.quarantine where source = 'zotero' order by 1, 2, 3")
        assert quarantine == [
            (ADA, f"users/1001/items/{item_key(2)}", "DOI", "not a DOI"),
            (GRACE, "groups/2002/items/NOTE2345", "text", "NUL characters or lone UTF-16 surrogates removed (Postgres cannot store them)"),
            (LINUS, "studentops.yaml", "students[linus].zotero.library_id", 'library_id must be a positive integer such as "475425"'),
            (LINUS, "studentops.yaml", "students[linus].zotero.library_type", "library_type must be 'user' or 'group'"),
            (KAY, "users/3003", "API", "GET /users/3003/items?includeTrashed=1&limit=100: HTTP 403 (Forbidden)"),
        ]

        # 2. Nothing changed on the server: one conditional request per library, answered 304; same tables.
        items_before = table_dump(warehouse, "select * from raw.zotero_items order by _natural_key")
        quarantine_before = query(warehouse, "select source, student_id, file, location, reason, snippet, first_seen from meta.quarantine order by 1, 2, 3, 4")
        second = materialize(warehouse, zotero, instance, expect_success=False)
        assert table_dump(warehouse, "select * from raw.zotero_items order by _natural_key") == items_before
        assert query(warehouse, "select source, student_id, file, location, reason, snippet, first_seen from meta.quarantine order by 1, 2, 3, 4") == quarantine_before
        requests = server.take_requests()
        assert sorted((r.library, r.endpoint, r.headers.get("If-Modified-Since-Version"), r.status) for r in requests) == [
            (grace.path, "items", str(grace.version), 304),
            (ada.path, "items", str(ada.version), 304),
            ("users/3003", "items", None, 403),
        ]
        assert {s: v["status"] for s, v in statuses(second).items()} == {
            "ada": "unchanged", "grace": "unchanged", "hopper": by_student["hopper"]["status"],
            "linus": by_student["linus"]["status"], "kay": "refused"}

        # 3. Server-side edits, trash and deletions: exactly those rows change.
        v1 = ada.version
        ada.write({"key": item_key(10), "title": "Book 10, revised"}, {"key": item_key(11), "tags": [{"tag": "exam"}]})
        ada.trash(item_key(12))
        ada.delete(item_key(13), item_key(3))
        ada.write({"key": item_key(999), "itemType": "report", "title": "New report", "extra": "DOI: 10.1000/XYZ"})
        ada.write({"key": item_key(2), "DOI": "10.1000/fixed"})
        grace.delete("NOTE2345")
        loaded_before = {r["_natural_key"]: r["_loaded_at"] for r in items_before}
        third = materialize(warehouse, zotero, instance, expect_success=False)
        assert mirror(warehouse, ADA) == server_state(ada)
        assert set(mirror(warehouse, GRACE)) == {"X42A7DEE", "TM8QRS36"}
        after = {r["_natural_key"]: r for r in table_dump(warehouse, "select * from raw.zotero_items")}
        changed = {k.rsplit(":", 1)[1] for k, r in after.items() if r["_loaded_at"] != loaded_before.get(k)}
        assert changed == {item_key(10), item_key(11), item_key(999), item_key(2)}
        assert after[f"{ADA}:users/1001:{item_key(2)}"]["doi"] == "10.1000/fixed"
        assert after[f"{ADA}:users/1001:{item_key(999)}"]["doi"] == "10.1000/xyz"
        assert after[f"{ADA}:users/1001:{item_key(11)}"]["tags"] == ["exam"]
        gone = {f"{ADA}:users/1001:{k}" for k in (item_key(12), item_key(13), item_key(3))} | {f"{GRACE}:groups/2002:NOTE2345"}
        assert not gone & set(after)
        requests = server.take_requests()
        assert [(r.endpoint, r.param("since"), r.headers.get("If-Modified-Since-Version")) for r in requests if r.library == ada.path] == [
            ("items", str(v1), str(v1)), ("deleted", str(v1), None)]
        assert statuses(third)["ada"] == {
            "student": "ada", "library": "users/1001", "status": "synced", "version_before": v1, "version_after": ada.version,
            "items_loaded": 4, "items_removed": 3}
        # The fixed DOI and the deleted note took their quarantine rows with them.
        assert query(warehouse, "select student_id, file from meta.quarantine where source = 'zotero' order by 1, 2") == [
            (LINUS, "studentops.yaml"), (LINUS, "studentops.yaml"), (KAY, "users/3003")]

        # 4. The key never left its header: not in rows, state, quarantine, metadata, logs or dlt's files.
        haystacks = [
            json.dumps(table_dump(warehouse, "select * from raw.zotero_items"), default=str),
            json.dumps(table_dump(warehouse, "select * from meta.quarantine"), default=str),
            json.dumps(cursors(warehouse)),
            caplog.text,
            *capfd.readouterr(),
        ]
        for run in (first, second, third):
            haystacks.extend(dg.serialize_value(entry) for entry in instance.all_logs(run.run_id))
        dlt_files = [p.read_bytes().decode("latin-1") for p in (home.path / "dlt").rglob("*") if p.is_file()]
        haystacks.extend(dlt_files)
        for key in (SHARED_KEY, GRACE_KEY):
            assert not [h[:200] for h in haystacks if key in h]
        # The haystacks are real: the run logs and dlt's files (schema, trace) were captured.
        assert any("raw_zotero_items" in h for h in haystacks) and any("zotero_items" in h for h in dlt_files)


def test_crash_mid_paging_then_rerun_loses_and_duplicates_nothing(new_home, grace_key):
    home, warehouse = new_home(students=students()[:2])
    instance = dg.DagsterInstance.ephemeral()
    with FakeZotero() as server:
        ada = ada_library(server, 250)
        grace = grace_library(server)
        # The server dies after the first page of Ada's library, through every retry.
        server.add_fault(action="drop", library=ada.path, start=100, times=99)
        zotero = resource(server)

        failed = materialize(warehouse, zotero, instance, expect_success=False)
        failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
        # The loader's RetryPolicy ran it again (no delay in tests); the last try's reason is the step's.
        description = failure.step_failure_data.user_failure_data.description
        assert description.startswith("Zotero unavailable: ada (users/1001): failed: ")
        assert "resume from the last loaded version" in description
        # What did load is recorded as a materialisation before the step fails.
        assert statuses(failed)["ada"]["status"] == "failed"
        # Grace's library loaded on the first try; the RetryPolicy's later tries found it unchanged.
        first_try = failed.get_asset_materialization_events()[0].materialization.metadata["zotero_students"].value
        assert {r["student"]: r["status"] for r in first_try} == {"ada": "failed", "grace": "synced"}
        assert statuses(failed)["grace"]["status"] == "unchanged"
        assert not [e for e in instance.all_logs(failed.run_id) if SHARED_KEY in dg.serialize_value(e)]
        # Page 1 loaded, the cursor did not move past what was not loaded; Grace's library is complete.
        first_page = {i["key"] for i in ada.visible(0, True)[:100] if not i["data"].get("deleted")}
        assert set(mirror(warehouse, ADA)) == first_page
        assert cursors(warehouse) == {f"{GRACE}:groups/2002": {"version": grace.version}}

        server.clear_faults()
        server.take_requests()
        materialize(warehouse, zotero, instance)
        assert mirror(warehouse, ADA) == server_state(ada)
        assert query(warehouse, "select count(*) - count(distinct _natural_key) from raw.zotero_items") == [(0,)]
        assert cursors(warehouse)[f"{ADA}:users/1001"] == {"version": ada.version}
        # The rerun started from the old cursor (none: a full read), not from page 2.
        assert [r.param("start") for r in server.take_requests() if r.library == ada.path] == [None, "100", "200"]

        # The same on an incremental run, with small pages: the crash leaves the cursor at v1.
        v1 = ada.version
        for n in (20, 21, 22, 23, 24):
            ada.write({"key": item_key(n), "title": f"Book {n}, annotated"})
        ada.delete(item_key(30))
        server.add_fault(action="drop", library=ada.path, start=2, times=99)
        small_pages = resource(server, page_size=2)
        materialize(warehouse, small_pages, instance, expect_success=False)
        assert cursors(warehouse)[f"{ADA}:users/1001"] == {"version": v1}
        assert f"{ADA}:users/1001:{item_key(30)}" in {r[0] for r in query(warehouse, "select _natural_key from raw.zotero_items")}
        server.clear_faults()
        materialize(warehouse, small_pages, instance)
        assert mirror(warehouse, ADA) == server_state(ada)
        assert cursors(warehouse)[f"{ADA}:users/1001"] == {"version": ada.version}


def test_library_written_while_paging_is_read_again(new_home, grace_key):
    home, warehouse = new_home(students=students()[:1])
    instance = dg.DagsterInstance.ephemeral()
    with FakeZotero() as server:
        ada = ada_library(server, 120)
        # Between page 1 and page 2 the student edits an item already read and deletes one not yet read.
        def write_during_paging():
            ada.write({"key": item_key(7), "title": "Edited while paging"})
            ada.delete(item_key(100))
        server.add_fault(action="mutate", library=ada.path, start=100, mutate=write_during_paging)
        materialize(warehouse, resource(server), instance)
        assert mirror(warehouse, ADA) == server_state(ada)
        assert cursors(warehouse)[f"{ADA}:users/1001"] == {"version": ada.version}
        # Page 2 answered with a newer library version, so the read started over.
        assert [r.param("start") for r in server.take_requests()] == [None, "100", None, "100"]


def test_switching_library_and_losing_the_key(new_home, grace_key, monkeypatch):
    home, warehouse = new_home(students=students()[:2])
    instance = dg.DagsterInstance.ephemeral()
    with FakeZotero() as server:
        ada_library(server, 12)
        grace = grace_library(server)
        server.grant(SHARED_KEY, grace)
        zotero = resource(server)
        materialize(warehouse, zotero, instance)
        assert len(mirror(warehouse, ADA)) == 11

        # Ada now follows the reading group instead of her own library: her old rows go.
        rewrite_students(home, students(ada_zotero={"library_type": "group", "library_id": "2002"})[:2])
        switched = materialize(warehouse, zotero, instance)
        assert query(warehouse, "select distinct library_type, library_id from raw.zotero_items where student_id = %s", (ADA,)) == [("group", "2002")]
        assert mirror(warehouse, ADA).keys() == mirror(warehouse, GRACE).keys() == {"X42A7DEE", "TM8QRS36", "NOTE2345"}
        assert statuses(switched)["ada"]["library"] == "groups/2002"
        assert set(cursors(warehouse)) == {f"{ADA}:groups/2002", f"{GRACE}:groups/2002"}

        # Without any key nothing is read and nothing is deleted; nobody is configured, so the table
        # is not materialised (it keeps its last materialisation and goes stale): an observation says why.
        monkeypatch.delenv("STUDENTOPS_ZOTERO_API_KEY_GRACE")
        before = table_dump(warehouse, "select * from raw.zotero_items order by _natural_key")
        server.take_requests()
        keyless = materialize(warehouse, resource(server, api_key=None), instance)
        assert server.take_requests() == []
        assert table_dump(warehouse, "select * from raw.zotero_items order by _natural_key") == before
        assert not keyless.get_asset_materialization_events()
        (observation,) = keyless.asset_observations_for_node("raw_zotero_items")
        for student in ("ada", "grace"):
            assert f"{student}: not configured: no API key" in observation.metadata["source_status"].value
        (check,) = [c for c in keyless.get_asset_check_evaluations() if c.check_name == "source_configured"]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN


def test_nobody_configured_is_observed_not_materialised(new_home):
    home, warehouse = new_home(students=[students()[2], students()[3]])  # hopper: no section, linus: broken
    with FakeZotero() as server:
        result = materialize(warehouse, resource(server), dg.DagsterInstance.ephemeral())
        assert server.take_requests() == []
    assert not result.get_asset_materialization_events()
    (observation,) = result.asset_observations_for_node("raw_zotero_items")
    statuses_ = {s["student"]: s["status"].split(":")[0] for s in observation.metadata["zotero_students"].value}
    assert statuses_ == {"hopper": "not configured", "linus": "invalid config"}
    assert observation.metadata["source_status"].value.startswith("not configured: no student has a Zotero library")
    # The empty table exists for the models downstream; the broken config is in the quarantine.
    assert query(warehouse, "select count(*) from raw.zotero_items") == [(0,)]
    assert query(warehouse, "select count(*) from meta.quarantine where source = 'zotero' and student_id = %s", (LINUS,)) == [(2,)]
