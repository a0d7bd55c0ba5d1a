"""Incremental reading of one Zotero library, by library version (Zotero Web API v3 "Syncing").

Every object and the library itself carry a version; the library version grows with each write.
Given the version of the last completed sync `since`:

1. `GET <library>/items?since=<since>&includeTrashed=1` with `If-Modified-Since-Version: <since>`.
   304 means nothing changed, deletions included (they bump the library version too): one request.
   Otherwise its `Last-Modified-Version` is the version this sync reaches; pages follow `Link: rel=next`.
2. `GET <library>/deleted?since=<since>`: keys deleted since then (emptied from the trash).

Without a cursor (first sync, or every earlier attempt failed) the read is a full listing, and the
deletions are whatever the warehouse holds for the library that the listing no longer has.

The reached version is only reported when every page and the deletions answered with that same
version and the pages held `Total-Results` items. A write during paging shifts items between pages
and could skip one, so the read starts over (up to three times); if the library keeps moving the
cursor stays where it was and the next run reads the same range again. Items read meanwhile are still
right: they load by merge, and dedup by item version keeps the newest of any key read twice; a key
read by an earlier attempt and gone from the final one was deleted in between and is removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .client import ZoteroClient, ZoteroProtocolError
from .config import LibrarySpec

READ_ATTEMPTS = 3


@dataclass(frozen=True)
class ItemRead:
    item: Any  # one element of the items array, as the API sent it
    where: str  # "items start=100 #3"


@dataclass(frozen=True)
class KeyDeleted:
    key: str
    library_version: int  # the version the deletion list was read at (after the deletion)


@dataclass
class LibraryOutcome:
    status: str  # synced | unchanged | moving | refused | failed
    version_before: int | None
    version_after: int | None = None
    items_read: int = 0
    keys_deleted: int = 0
    error: str | None = None


def _start_of(url: str | None) -> int:
    if not url:
        return 0
    values = parse_qs(urlsplit(url).query).get("start") or ["0"]
    try:
        return int(values[0])
    except ValueError:
        return 0


class LibraryReader:
    """`changes()` yields what changed since `since`; afterwards `outcome` says how far it got.

    ZoteroError from the client propagates: the caller records the library as refused or failed and
    does not move its cursor.
    """

    def __init__(
        self,
        client: ZoteroClient,
        library: LibrarySpec,
        since: int | None,
        known_keys: Callable[[], set[str]] = set,
    ):
        self.client = client
        self.library = library
        self.since = since
        # Item keys the warehouse holds for this library; only asked for on a full read.
        self.known_keys = known_keys
        self.outcome = LibraryOutcome(status="failed", version_before=since)

    def _items_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"includeTrashed": 1, "limit": self.client.page_size}
        if self.since is not None:
            params["since"] = self.since
        return params

    def _next_url(self, page: Any, count: int, expected: int | None, last_page_size: int) -> str | None:
        if page.next_url:
            return page.next_url
        # Zotero always sends `Link: rel="next"` while results remain; should a proxy strip it,
        # `Total-Results` still says more are due and start/limit paging reaches them.
        if expected is not None and count < expected and last_page_size > 0:
            return self.client.url(f"{self.library.path}/items") + "?" + urlencode({**self._items_params(), "start": count})
        return None

    def changes(self) -> Iterator[ItemRead | KeyDeleted]:
        read_before: set[str] = set()  # keys yielded by earlier, abandoned attempts
        for _ in range(READ_ATTEMPTS):
            page = self.client.get(
                f"{self.library.path}/items",
                self.library.api_key,
                self._items_params(),
                if_modified_since_version=self.since,
            )
            if page.status == 304:
                self.outcome.status = "unchanged"
                self.outcome.version_after = self.since
                return
            target = page.library_version
            expected = page.total_results
            keys_read: set[str] = set()
            count = 0
            consistent = True
            start = 0
            while True:
                items = page.json()
                if not isinstance(items, list):
                    raise ZoteroProtocolError(f"{page.where}: expected a JSON array of items")
                for index, item in enumerate(items):
                    count += 1
                    if isinstance(item, dict) and isinstance(item.get("key"), str):
                        keys_read.add(item["key"])
                    yield ItemRead(item, f"items start={start} #{index}")
                self.outcome.items_read += len(items)
                next_url = self._next_url(page, count, expected, len(items))
                if not next_url:
                    break
                start = _start_of(next_url)
                page = self.client.get(next_url, self.library.api_key)
                if page.status != 200 or page.library_version != target:
                    consistent = False
                    break
            if consistent and expected is not None and count != expected:
                consistent = False
            if consistent:
                if self.since is None:
                    gone = self.known_keys()
                else:
                    answer = self.client.get(f"{self.library.path}/deleted", self.library.api_key, {"since": self.since})
                    body = answer.json()
                    gone = body.get("items") if isinstance(body, dict) else None
                    if not isinstance(gone, list) or not all(isinstance(k, str) for k in gone):
                        raise ZoteroProtocolError(f"{answer.where}: expected {{\"items\": [keys]}}")
                    consistent = answer.library_version == target
            if consistent:
                # A key listed now exists, even if it was deleted once and re-created since.
                deleted = sorted((set(gone) | read_before) - keys_read)
                for key in deleted:
                    yield KeyDeleted(key, target)
                self.outcome.status = "synced"
                self.outcome.version_after = target
                self.outcome.keys_deleted = len(deleted)
                return
            read_before |= keys_read
        self.outcome.status = "moving"
        self.outcome.version_after = self.since
