"""Before anything is dropped into the inbox or cited, the tables already exist with every column,
so models reading them work from the first run; and a second empty run changes nothing."""

from __future__ import annotations

from resources.scholarly_apis import ScholarlyApisResource
from studentops_assets.references.assets import raw_bibtex_entries, raw_citation_cache, raw_ris_entries
from studentops_assets.references.citation_cache import COLUMNS as CACHE_COLUMNS
from studentops_assets.references.sources import BIBTEX_COLUMNS, RIS_COLUMNS

from ..conftest import free_port
from .helpers import materialize, metadata, snapshot

# Nothing listens there: the cache must not even try when no DOI is cited.
_NOWHERE = f"http://127.0.0.1:{free_port()}"
NOWHERE = ScholarlyApisResource(openalex_url=_NOWHERE, crossref_url=_NOWHERE, max_attempts=1)


def test_empty_inbox_creates_every_table_and_reruns_are_no_ops(new_home):
    home, warehouse = new_home(students=[{"id": "only", "slug": "only"}])
    assets = [raw_bibtex_entries, raw_ris_entries, raw_citation_cache]
    first = materialize(assets, warehouse, scholarly_apis=NOWHERE)
    for table, declared in (("bibtex_entries", BIBTEX_COLUMNS), ("ris_entries", RIS_COLUMNS),
                            ("citation_cache", CACHE_COLUMNS)):
        columns = {c for (c,) in home.query(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = %s",
            (table,))}
        assert set(declared) - {"_deleted"} <= columns, table
        assert home.query(f"select count(*) from raw.{table}") == [(0,)]
    assert metadata(first, "raw_citation_cache")["looked_up_this_run"] == 0
    before = snapshot(home)
    materialize(assets, warehouse, scholarly_apis=NOWHERE)
    assert snapshot(home) == before
