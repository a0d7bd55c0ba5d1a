"""`raw.citation_cache`: every DOI the students cite, resolved against OpenAlex, else Crossref.

One row per DOI (normalised; the natural key). Which DOIs are looked up in a run:
- DOIs never looked up, first;
- resolved rows older than the resolved TTL (30 days) and unresolved rows older than the unresolved
  TTL (1 day), oldest first;
at most `max_lookups_per_run` of them; the rest wait for the next run (reported as `deferred`).

A lookup asks OpenAlex; when OpenAlex has no answer (404, or failure after its retries) Crossref is
asked. Both 404: resolved=false, "not found". Any other failure (offline, 5xx, 429 or timeouts after
the client's retries): resolved=false with both providers' reasons; the run still succeeds. A row
that is already resolved is only ever replaced by a newer resolution: a failed re-check keeps the
old metadata and is retried on the next run. An unresolved row whose re-check fails for the same
reason is not rewritten (a rerun against the same outside world changes no row); the re-check time goes to meta.citation_rechecks, and the TTL runs from there.

The cache is shared by all students (a DOI's metadata does not depend on who cites it), so the
table has no student_id: who cites what is in the source tables.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dlt

from resources.scholarly_apis import ScholarlyApisResource
from studentops_assets.core.quarantine import Issue, QuarantineBatch

from . import crossref, openalex
from .doi import doi_from_field
from .http_lookup import MALFORMED, Lookup
from studentops_assets.core.dlt_support import create_table_once

SOURCE = "citation_cache"

# Where DOIs are cited: (raw table, column). A table or column that does not exist (yet) is skipped,
# so raw.zotero_items counts as soon as the Zotero loader has created it.
CITING_TABLES = (("notes", "dois"), ("bibtex_entries", "doi"), ("ris_entries", "doi"), ("zotero_items", "doi"))

COLUMNS: dict[str, dict[str, Any]] = {
    "_natural_key": {"data_type": "text", "nullable": False, "description": "The DOI (same as doi)"},
    "doi": {"data_type": "text", "nullable": False, "description": "DOI, normalised (lowercase, no prefix)"},
    "resolved": {"data_type": "bool", "nullable": False, "description": "A provider returned the work"},
    "provider": {"data_type": "text", "description": "openalex or crossref; null when unresolved"},
    "title": {"data_type": "text", "description": "Work title"},
    "year": {"data_type": "bigint", "description": "Publication year"},
    "venue": {"data_type": "text", "description": "Journal / proceedings / repository name"},
    "authors": {"data_type": "json", "description": "Author display names, in order"},
    "cited_by_count": {"data_type": "bigint", "description": "Citations counted by the provider"},
    "is_retracted": {"data_type": "bool",
                     "description": "OpenAlex is_retracted; Crossref: true if updated-by holds a retraction, else null"},
    "work_type": {"data_type": "text", "description": "Provider's work type (article, journal-article, ...)"},
    "provider_id": {"data_type": "text", "description": "OpenAlex Work id, or the DOI as Crossref has it"},
    "provider_updated_at": {"data_type": "text", "description": "Version marker: the provider's own update stamp"},
    "failure_reason": {"data_type": "text", "description": "Why the DOI is unresolved, per provider"},
    "fetched_at": {"data_type": "timestamp", "nullable": False, "description": "When this answer was first fetched (asking again and getting the same failure leaves the row as it is)"},
    "_record": {"data_type": "json", "description": "The provider's JSON (or both providers' failures)"},
    "_source": {"data_type": "text", "description": "Always 'citation_cache'"},
    "_loaded_at": {"data_type": "timestamp", "description": "When the run that loaded this row started"},
}


@dataclass(frozen=True)
class Cached:
    resolved: bool
    fetched_at: dt.datetime
    failure_reason: str | None = None


@dataclass(frozen=True)
class Plan:
    due: list[str]
    cached: dict[str, Cached]
    seen: int
    fresh: int
    deferred: int


@dataclass
class CacheStats:
    looked_up: int = 0
    resolved: int = 0
    unresolved: int = 0
    kept_previous: int = 0
    unchanged_failures: int = 0
    # DOIs whose lookup got no answer (5xx, 429, timeouts, connection failures after the retries),
    # as opposed to "not found" (both providers answered 404): the outage the doi_resolution check reports.
    lookup_failures: int = 0
    rechecked: list[str] = field(default_factory=list)
    by_provider: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=lambda: {openalex.PROVIDER: 0, crossref.PROVIDER: 0})


def _columns(conn) -> dict[tuple[str, str], str]:
    with conn.cursor() as cur:
        cur.execute("select table_name, column_name, data_type from information_schema.columns "
                    "where table_schema = 'raw'")
        return {(t, c): kind for t, c, kind in cur.fetchall()}


def seen_dois(conn) -> tuple[set[str], dict[str, int]]:
    """Every normalised DOI cited anywhere, and how many distinct DOIs each table contributes."""
    columns = _columns(conn)
    found: set[str] = set()
    per_table: dict[str, int] = {}
    with conn.cursor() as cur:
        for table, column in CITING_TABLES:
            kind = columns.get((table, column))
            if kind is None:
                continue
            if kind == "jsonb":
                cur.execute(f'select distinct jsonb_array_elements_text(t."{column}") from raw."{table}" t '
                            f'where jsonb_typeof(t."{column}") = \'array\'')
            else:
                cur.execute(f'select distinct "{column}"::text from raw."{table}" where "{column}" is not null')
            # Values are normalised again: raw.zotero_items may keep DOIs as Zotero has them.
            dois = {d for d in (doi_from_field(value) for (value,) in cur.fetchall() if value) if d}
            per_table[table] = len(dois)
            found |= dois
    return found, per_table


def cached_states(conn) -> dict[str, Cached]:
    with conn.cursor() as cur:
        cur.execute("select to_regclass('raw.citation_cache') is not null")
        if not cur.fetchone()[0]:
            return {}
        cur.execute("select to_regclass('meta.citation_rechecks') is not null")
        rechecks = cur.fetchone()[0]
        # The TTL runs from the last time the DOI was asked: fetched_at, or a later re-check that got
        # the same failure and left the row alone.
        cur.execute(
            "select c.doi, c.resolved, greatest(c.fetched_at, r.checked_at), c.failure_reason from raw.citation_cache c "
            + ("left join meta.citation_rechecks r using (doi)" if rechecks else "cross join (select null::timestamptz as checked_at) r")
        )
        return {doi: Cached(bool(resolved), asked_at, reason) for doi, resolved, asked_at, reason in cur.fetchall()}


def record_rechecks(conn, dois: list[str], checked_at: dt.datetime) -> None:
    """Remember when unchanged failures were asked again (see meta.citation_rechecks)."""
    if not dois:
        return
    with conn.cursor() as cur:
        cur.execute(
            "insert into meta.citation_rechecks (doi, checked_at) select unnest(%s::text[]), %s "
            "on conflict (doi) do update set checked_at = excluded.checked_at",
            (dois, checked_at),
        )
    conn.commit()


def plan_lookups(seen: set[str], cached: dict[str, Cached], now: dt.datetime, apis: ScholarlyApisResource) -> Plan:
    resolved_before = now - dt.timedelta(days=apis.resolved_ttl_days)
    unresolved_before = now - dt.timedelta(days=apis.unresolved_ttl_days)
    new = sorted(doi for doi in seen if doi not in cached)
    stale = sorted(
        (doi for doi in seen if doi in cached
         and cached[doi].fetched_at <= (resolved_before if cached[doi].resolved else unresolved_before)),
        key=lambda doi: (cached[doi].fetched_at, doi),
    )
    ordered = new + stale
    due = ordered[: max(apis.max_lookups_per_run, 0)]
    return Plan(due=due, cached=cached, seen=len(seen), fresh=len(seen) - len(ordered), deferred=len(ordered) - len(due))


@dataclass(frozen=True)
class Resolution:
    doi: str
    provider: str | None
    fields: dict[str, Any] | None
    record: dict[str, Any]
    failure_reason: str | None
    issues: list[Issue]
    # No provider answered at all (5xx, 429, timeouts, no connection; not 404, not a malformed 200).
    no_answer: bool = False

    @property
    def resolved(self) -> bool:
        return self.provider is not None


# Connection-level failures (no HTTP answer at all) as http_lookup words them.
UNREACHABLE_REASONS = ("cannot connect", "timed out")


class Resolver:
    """Looks DOIs up, OpenAlex first, pacing requests `min_interval_seconds` apart."""

    def __init__(self, apis: ScholarlyApisResource, stats: CacheStats, sleep: Callable[[float], None] = time.sleep):
        self.apis = apis
        self.stats = stats
        self.client = apis.http_client()
        self._sleep = sleep
        self._last_request = 0.0
        # provider -> the reason every DOI gets once the provider proved unreachable in this run.
        self._unreachable: dict[str, str] = {}

    def _pace(self) -> None:
        wait = self._last_request + self.apis.min_interval_seconds - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        self._last_request = time.monotonic()

    def _ask(self, provider: str, fetch: Callable[..., Lookup], doi: str) -> Lookup:
        if provider in self._unreachable:
            # Offline, or the provider is down: after one DOI has used up every retry on a connection
            # failure, the rest of this run does not wait through the same retries again. Those DOIs
            # are unresolved and retried after the unresolved TTL.
            return Lookup("failed", reason=self._unreachable[provider])
        self._pace()
        self.stats.requests[provider] += 1
        lookup = fetch(self.apis, self.client, doi)
        if lookup.outcome == "failed" and lookup.status is None and (lookup.reason or "").startswith(UNREACHABLE_REASONS):
            # The DOI that found the outage and the ones after it get the same reason: a row must
            # not depend on the order in which DOIs were asked, or a rerun in the same outage would
            # rewrite rows that say nothing new.
            self._unreachable[provider] = f"unreachable this run: {lookup.reason}"
            return Lookup("failed", reason=self._unreachable[provider])
        return lookup

    def resolve(self, doi: str) -> Resolution:
        issues = []
        answers: dict[str, Lookup] = {}
        for provider, module in ((openalex.PROVIDER, openalex), (crossref.PROVIDER, crossref)):
            lookup = self._ask(provider, module.fetch_work, doi)
            answers[provider] = lookup
            if lookup.outcome == "found":
                return Resolution(doi, provider, module.work_fields(lookup.payload), lookup.payload, None, issues)
            if lookup.reason in MALFORMED:
                issues.append(Issue(provider, f"{provider}: {lookup.reason}"))
        if all(a.outcome == "not_found" for a in answers.values()):
            reason = "not found (OpenAlex and Crossref answered 404)"
        else:
            reason = "; ".join(f"{p}: {a.reason}" for p, a in answers.items())
        no_answer = all(a.outcome == "failed" and a.reason not in MALFORMED for a in answers.values())
        return Resolution(doi, None, None, {p: a.summary() for p, a in answers.items()}, reason, issues, no_answer)


def cache_rows(plan: Plan, resolver: Resolver, quarantine: QuarantineBatch, loaded_at: dt.datetime,
               stats: CacheStats, now: Callable[[], dt.datetime]) -> Iterator[dict[str, Any]]:
    for doi in plan.due:
        result = resolver.resolve(doi)
        stats.looked_up += 1
        # Quarantine is per DOI (file = the DOI): an answer that makes sense now clears last run's rows.
        quarantine.record("", doi, result.issues)
        previous = plan.cached.get(doi)
        if result.no_answer:
            stats.lookup_failures += 1
        if not result.resolved and previous is not None and previous.resolved:
            stats.kept_previous += 1
            continue
        if not result.resolved and previous is not None and previous.failure_reason == result.failure_reason:
            # The same failure as last time (still not found, still offline): the row already says
            # so. Rewriting it would only move fetched_at, and a rerun against the same outside world
            # changes no row. When it was asked goes to meta.citation_rechecks instead.
            stats.unchanged_failures += 1
            stats.rechecked.append(doi)
            continue
        row = {
            "_natural_key": doi,
            "doi": doi,
            "resolved": result.resolved,
            "provider": result.provider,
            "title": None, "year": None, "venue": None, "authors": [], "cited_by_count": None,
            "is_retracted": None, "work_type": None, "provider_id": None, "provider_updated_at": None,
            **(result.fields or {}),
            "failure_reason": result.failure_reason,
            "fetched_at": now(),
            "_record": result.record,
            "_source": SOURCE,
            "_loaded_at": loaded_at,
        }
        if result.resolved:
            stats.resolved += 1
            stats.by_provider[result.provider] = stats.by_provider.get(result.provider, 0) + 1
        else:
            stats.unresolved += 1
        yield row


@dlt.source(name=SOURCE, max_table_nesting=0)
def citation_cache_source(plan: Any = None, resolver: Any = None, quarantine: Any = None, loaded_at: Any = None,
                          stats: Any = None, flush_quarantine: Any = None):
    """DOI metadata from OpenAlex and Crossref for every DOI the students cite."""

    @dlt.resource(
        name="citation_cache",
        table_name="citation_cache",
        primary_key="_natural_key",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=COLUMNS,
    )
    def citation_cache() -> Iterator[dict[str, Any]]:
        """One row per cited DOI: resolved metadata or the reason it is not resolved."""
        batch = quarantine if quarantine is not None else QuarantineBatch(SOURCE)
        if plan is not None:
            yield from create_table_once(dlt.current.resource_state())
            yield from cache_rows(plan, resolver, batch, loaded_at or dt.datetime.now(dt.timezone.utc),
                                  stats if stats is not None else CacheStats(),
                                  lambda: dt.datetime.now(dt.timezone.utc))
        if flush_quarantine is not None:
            flush_quarantine(batch)

    return citation_cache
