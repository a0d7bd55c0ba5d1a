"""read_libraries (the dlt resource's body) against the fake API, without a warehouse."""

from __future__ import annotations

import datetime as dt

from studentops_assets.core.quarantine import QuarantineBatch
from studentops_assets.zotero.client import ZoteroClient
from studentops_assets.zotero.config import LibrarySpec, StudentPlan
from studentops_assets.zotero.source import Quarantine, RetiredRow, SyncReport, read_libraries

from .fake_zotero import FakeZotero, item_key

KEY = "zk-source-test-key-000000"
LOADED_AT = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def ada_plan(library_id: str = "1001") -> StudentPlan:
    lib = LibrarySpec("id-ada", "ada", "user", library_id, KEY)
    return StudentPlan("id-ada", "ada", lib, "configured", (), lib.path)


def run(server, plans, cursors, held=frozenset(), retired=(), known=lambda lib: set()):
    batch = QuarantineBatch("zotero")
    report = SyncReport()
    client = ZoteroClient(base_url=server.url, timeout=1, max_attempts=2, backoff_factor=0.01)
    rows = list(read_libraries(plans, client, cursors, retired, known, Quarantine(batch, held), LOADED_AT, report))
    return rows, batch, report


def test_malformed_records_are_quarantined_and_the_rest_loads():
    with FakeZotero() as server:
        lib = server.library("users", 1001, "Ada")
        lib.write({"key": item_key(1), "itemType": "book", "title": "Fine"})
        lib.add_broken("NODATA23", {"key": "NODATA23", "version": 2, "data": "oops"})
        lib.add_broken("NOKEY234", {"version": 3, "data": {"itemType": "book"}})
        lib.add_broken("LIST2345", ["not", "an", "item"])
        server.grant(KEY, lib)
        cursors: dict = {}
        rows, batch, report = run(server, [ada_plan()], cursors)
    assert [r["item_key"] for r in rows] == [item_key(1)]
    assert rows[0]["_natural_key"] == f"id-ada:users/1001:{item_key(1)}" and rows[0]["_loaded_at"] == LOADED_AT
    issues = sorted((file, i.location, i.reason) for (_, file), found in batch.files.items() for i in found)
    # Locations say where in the listing: page start, index in the page, then the field.
    assert [(f, loc.split()[-1], r) for f, loc, r in issues] == [
        ("users/1001/items", "key", "item has no key"),
        ("users/1001/items", "item", "not a JSON object"),
        ("users/1001/items/NODATA23", "data", "item has no data object"),
    ]
    assert all(loc.startswith("items start=0 #") for _, loc, _ in issues)
    # The library still counts as read: the cursor moves past the broken records.
    assert cursors == {"id-ada:users/1001": {"version": lib.version}}
    assert report.outcomes["id-ada:users/1001"].status == "synced"


def test_clean_reads_only_clear_files_that_hold_quarantine_rows():
    with FakeZotero() as server:
        lib = server.library("users", 1001, "Ada")
        lib.write(*({"key": item_key(n), "itemType": "book", "title": f"B{n}"} for n in range(50)))
        server.grant(KEY, lib)
        held = frozenset({("id-ada", f"users/1001/items/{item_key(7)}")})
        _, batch, _ = run(server, [ada_plan()], {}, held=held)
    assert batch.files == {("id-ada", f"users/1001/items/{item_key(7)}"): []}


def test_switching_library_retires_old_rows_and_cursor():
    with FakeZotero() as server:
        lib = server.library("users", 2002, "Ada new")
        lib.write({"key": item_key(1), "itemType": "book", "title": "New"})
        server.grant(KEY, lib)
        cursors = {"id-ada:users/1001": {"version": 9}, "id-grace:users/1001": {"version": 9}}
        retired = [RetiredRow("id-ada", "id-ada:users/1001:OLD23456", 4)]
        rows, _, report = run(server, [ada_plan("2002")], cursors, retired=retired)
    assert rows[0] == {"_natural_key": "id-ada:users/1001:OLD23456", "student_id": "id-ada", "item_version": 4, "_deleted": True}
    assert [r["item_key"] for r in rows[1:]] == [item_key(1)]
    # Grace's cursor on the same library is hers and stays.
    assert cursors == {"id-grace:users/1001": {"version": 9}, "id-ada:users/2002": {"version": 1}}
    assert report.retired == 1
