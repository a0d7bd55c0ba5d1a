"""ZoteroClient and LibraryReader against the fake API on 127.0.0.1: paging, versions, faults."""

from __future__ import annotations

import pytest

from studentops_assets.zotero.client import ZoteroClient, ZoteroProtocolError, ZoteroRefused, ZoteroUnavailable
from studentops_assets.zotero.config import LibrarySpec
from studentops_assets.zotero.sync import ItemRead, KeyDeleted, LibraryReader

from .fake_zotero import FakeZotero, item_key

KEY = "zk-client-test-key-0000000"


@pytest.fixture
def zotero():
    with FakeZotero() as server:
        lib = server.library("users", 1001, "Ada Lovelace")
        for n in range(7):
            lib.write({"key": item_key(n), "itemType": "book", "title": f"Book {n}"})
        server.grant(KEY, lib)
        yield server


def client(server: FakeZotero, **kwargs) -> ZoteroClient:
    kwargs.setdefault("timeout", 1.0)
    kwargs.setdefault("max_attempts", 3)
    kwargs.setdefault("backoff_factor", 0.05)
    kwargs.setdefault("max_retry_delay", 5)
    return ZoteroClient(base_url=server.url, **kwargs)


def ada(api_key: str = KEY) -> LibrarySpec:
    return LibrarySpec("id-ada", "ada", "user", "1001", api_key)


def read(server: FakeZotero, since: int | None, **kwargs):
    reader = LibraryReader(client(server, **kwargs), ada(), since)
    changes = list(reader.changes())
    return reader.outcome, changes


def test_full_read_follows_link_next_and_sends_the_key_only_in_a_header(zotero):
    outcome, changes = read(zotero, None, page_size=3)
    assert (outcome.status, outcome.version_after) == ("synced", 7)
    assert sorted(c.item["key"] for c in changes) == sorted(item_key(n) for n in range(7))
    requests = zotero.take_requests()
    assert [r.param("start") for r in requests] == [None, "3", "6"]
    for r in requests:
        assert r.headers["Zotero-API-Key"] == KEY and r.headers["Zotero-API-Version"] == "3"
        assert KEY not in r.path and all(KEY not in v for vs in r.query.values() for v in vs)
        assert r.param("includeTrashed") == "1" and r.param("limit") == "3"
    # A first sync asks no condition and no deletions.
    assert "If-Modified-Since-Version" not in requests[0].headers
    assert {r.endpoint for r in requests} == {"items"}


def test_unchanged_library_costs_one_conditional_request(zotero):
    outcome, changes = read(zotero, 7)
    assert (outcome.status, changes) == ("unchanged", [])
    (request,) = zotero.take_requests()
    assert request.headers["If-Modified-Since-Version"] == "7" and request.status == 304


def test_incremental_read_returns_changes_trash_and_deletions(zotero):
    lib = zotero.libraries["users/1001"]
    lib.write({"key": item_key(1), "title": "Book 1, second edition"})
    lib.trash(item_key(2))
    lib.delete(item_key(3))
    outcome, changes = read(zotero, 7)
    assert (outcome.status, outcome.version_before, outcome.version_after) == ("synced", 7, 10)
    reads = {c.item["key"]: c.item for c in changes if isinstance(c, ItemRead)}
    assert set(reads) == {item_key(1), item_key(2)}
    assert reads[item_key(2)]["data"]["deleted"] == 1
    assert [c for c in changes if isinstance(c, KeyDeleted)] == [KeyDeleted(item_key(3), 10)]
    requests = zotero.take_requests()
    assert [(r.endpoint, r.param("since")) for r in requests] == [("items", "7"), ("deleted", "7")]


def test_backoff_header_delays_the_next_request(zotero):
    zotero.add_fault(action="backoff", seconds=1, start=0)
    outcome, _ = read(zotero, None, page_size=4)
    assert outcome.status == "synced"
    first, second = zotero.take_requests()
    assert second.at - first.at >= 1.0


def test_429_and_503_wait_for_retry_after(zotero):
    zotero.add_fault(action="status", status=429, headers={"Retry-After": "1"}, start=4)
    zotero.add_fault(action="status", status=503, headers={"Retry-After": "1"}, start=4)
    outcome, changes = read(zotero, None, page_size=4)
    assert outcome.status == "synced" and len(changes) == 7
    requests = zotero.take_requests()
    assert [r.status for r in requests] == [200, 429, 503, 200]
    assert requests[2].at - requests[1].at >= 1.0 and requests[3].at - requests[2].at >= 1.0


def test_500_and_a_slow_answer_are_retried(zotero):
    zotero.add_fault(action="slow", seconds=1.6, start=0)
    zotero.add_fault(action="status", status=500, start=4)
    outcome, changes = read(zotero, None, page_size=4, timeout=0.5)
    assert outcome.status == "synced" and len(changes) == 7
    assert [r.param("start") for r in zotero.take_requests()] == [None, None, "4", "4"]


def test_persistent_failure_and_dropped_connections_raise_unavailable(zotero):
    zotero.add_fault(action="status", status=500, times=99)
    with pytest.raises(ZoteroUnavailable, match=r"HTTP 500 after 3 tries"):
        read(zotero, None)
    zotero.clear_faults()
    zotero.add_fault(action="drop", times=99, start=4)
    reader = LibraryReader(client(zotero), ada(), None)
    reader.client.page_size = 4
    got = []
    with pytest.raises(ZoteroUnavailable, match="no answer after 3 tries"):
        for change in reader.changes():
            got.append(change)
    # The first page was read; the reader never claimed the library version.
    assert len(got) == 4 and reader.outcome.version_after is None


def test_refusals_never_echo_the_key(zotero):
    zotero.add_fault(action="status", status=403, body=f"Invalid key {KEY}")
    with pytest.raises(ZoteroRefused) as refused:
        read(zotero, None)
    assert KEY not in str(refused.value) and "[redacted]" in str(refused.value)
    wrong = LibraryReader(client(zotero), ada("zk-wrong"), None)
    with pytest.raises(ZoteroRefused, match="HTTP 403"):
        list(wrong.changes())


def test_the_key_never_follows_a_link_or_redirect_to_another_host(zotero):
    with FakeZotero() as elsewhere:
        zotero.add_fault(action="status", status=200, start=None, headers={
            "Last-Modified-Version": "7", "Total-Results": "7", "Link": f'<{elsewhere.url}/users/1001/items?start=3>; rel="next"',
        }, body="[]")
        with pytest.raises(ZoteroProtocolError, match="refusing to send the API key"):
            read(zotero, None)
        zotero.add_fault(action="status", status=302, headers={"Location": f"{elsewhere.url}/users/1001/items"})
        with pytest.raises(ZoteroProtocolError, match="redirects are not followed"):
            read(zotero, None)
        assert elsewhere.take_requests() == []


def test_a_write_during_paging_restarts_the_read(zotero):
    lib = zotero.libraries["users/1001"]
    zotero.add_fault(action="mutate", start=3, mutate=lambda: lib.write({"key": item_key(0), "title": "Moved"}))
    outcome, changes = read(zotero, None, page_size=3)
    assert (outcome.status, outcome.version_after) == ("synced", 8)
    titles = {c.item["key"]: c.item["data"]["title"] for c in changes}
    assert titles[item_key(0)] == "Moved" and len(titles) == 7


def test_a_library_that_never_holds_still_keeps_its_cursor(zotero):
    lib = zotero.libraries["users/1001"]
    zotero.add_fault(action="mutate", start=3, times=99, mutate=lambda: lib.write({"key": item_key(0), "title": "Again"}))
    outcome, changes = read(zotero, 1, page_size=3)
    assert (outcome.status, outcome.version_after) == ("moving", 1)
    assert len([r for r in zotero.take_requests() if r.param("start") is None]) == 3
    assert all(isinstance(c, ItemRead) for c in changes)


def test_non_json_and_missing_headers_are_protocol_errors(zotero):
    zotero.add_fault(action="status", status=200, headers={"Last-Modified-Version": "7"}, body="<html>maintenance</html>")
    with pytest.raises(ZoteroProtocolError, match="not JSON"):
        read(zotero, None)
    zotero.add_fault(action="status", status=200, body="[]")
    with pytest.raises(ZoteroProtocolError, match="no Last-Modified-Version"):
        read(zotero, None)


def test_a_full_read_removes_what_the_warehouse_has_and_the_library_lost(zotero):
    reader = LibraryReader(client(zotero), ada(), None, known_keys=lambda: {item_key(0), "GONE2345"})
    changes = list(reader.changes())
    assert [c for c in changes if isinstance(c, KeyDeleted)] == [KeyDeleted("GONE2345", 7)]
    assert all(r.endpoint == "items" for r in zotero.take_requests())


def test_an_item_read_then_deleted_during_a_restarted_read_is_removed(zotero):
    lib = zotero.libraries["users/1001"]
    first_page = [i["key"] for i in lib.visible(0, True)[:3]]
    zotero.add_fault(action="mutate", start=3, mutate=lambda: lib.delete(first_page[0]))
    outcome, changes = read(zotero, None, page_size=3)
    assert (outcome.status, outcome.version_after) == ("synced", 8)
    assert [c for c in changes if isinstance(c, KeyDeleted)] == [KeyDeleted(first_page[0], 8)]


def test_the_resource_binds_the_shared_key_by_name(monkeypatch):
    import dagster as dg

    from resources.zotero import API_KEY_ENV, zotero_resource

    monkeypatch.delenv(API_KEY_ENV, raising=False)
    assert zotero_resource().api_key is None
    monkeypatch.setenv(API_KEY_ENV, "zk-bound")
    bound = zotero_resource()
    assert bound.api_key == dg.EnvVar(API_KEY_ENV)
    assert "zk-bound" not in repr(bound)


def test_without_link_headers_total_results_drives_start_limit_paging(zotero):
    zotero.send_link_header = False
    outcome, changes = read(zotero, None, page_size=3)
    assert (outcome.status, len(changes)) == ("synced", 7)
    assert [r.param("start") for r in zotero.take_requests()] == [None, "3", "6"]


def test_a_backoff_longer_than_any_retry_wait_ends_the_read_instead_of_blocking(zotero):
    zotero.add_fault(action="backoff", seconds=60, start=0)
    reader = LibraryReader(client(zotero, page_size=4, max_retry_delay=5), ada(), None)
    with pytest.raises(ZoteroUnavailable, match="back off for 60 s"):
        list(reader.changes())
    assert len(zotero.take_requests()) == 1


def test_an_empty_library_syncs_to_its_version():
    with FakeZotero() as server:
        lib = server.library("users", 1001, "Empty")
        server.grant(KEY, lib)
        outcome, changes = read(server, None)
        assert (outcome.status, outcome.version_after, changes) == ("synced", 0, [])
        again, _ = read(server, 0)
        assert again.status == "unchanged"


def test_truncated_and_binary_pages_are_protocol_errors(zotero):
    page_headers = {"Last-Modified-Version": "7", "Total-Results": "7", "Content-Type": "application/json"}
    zotero.add_fault(action="status", status=200, headers=page_headers, body='[{"key": "ABCD2345", "version": 1, "da')
    with pytest.raises(ZoteroProtocolError, match="not JSON"):
        read(zotero, None)
    zotero.add_fault(action="status", status=200, headers=page_headers, body="\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ZoteroProtocolError, match="not JSON"):
        read(zotero, None)
    zotero.add_fault(action="status", status=200, headers=page_headers, body='{"items": []}')
    with pytest.raises(ZoteroProtocolError, match="expected a JSON array"):
        read(zotero, None)


def test_a_huge_library_is_read_in_pages_of_100():
    with FakeZotero() as server:
        lib = server.library("groups", 9, "Huge")
        for start in range(0, 2500, 250):
            lib.write(*({"key": item_key(n), "itemType": "book", "title": f"Book {n}"} for n in range(start, start + 250)))
        server.grant(KEY, lib)
        reader = LibraryReader(client(server), LibrarySpec("id-ada", "ada", "group", "9", KEY), None)
        changes = list(reader.changes())
        assert reader.outcome.status == "synced" and len({c.item["key"] for c in changes}) == 2500
        requests = server.take_requests()
        assert len(requests) == 25 and {r.param("limit") for r in requests} == {"100"}
