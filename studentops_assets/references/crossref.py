"""Crossref: `GET /works/{doi}` and the fields the citation cache keeps from a work message.

Response format: https://api.crossref.org/swagger-ui/index.html (`{status, message-type: work, message}`).
The polite pool is reached through the User-Agent's mailto (set on the client by the resource).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from resources.scholarly_apis import ScholarlyApisResource

from .http_lookup import Lookup, get_json

PROVIDER = "crossref"
# Update types that withdraw a work. Crossref lists them on the original work's `updated-by` (notices
# registered by publishers, and Retraction Watch's data since 2023). `update-to` is the other end: it
# sits on the retraction NOTICE and points at the retracted work, so it says nothing about the DOI
# looked up being retracted.
RETRACTING_UPDATES = {"retraction", "withdrawal", "removal"}


def work_url(base_url: str, doi: str) -> str:
    return f"{base_url.rstrip('/')}/works/{quote(doi, safe='/')}"


def _is_work(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and payload.get("status") == "ok"
        and payload.get("message-type") == "work"
        and isinstance(payload.get("message"), dict)
    )


def fetch_work(apis: ScholarlyApisResource, client: Any, doi: str) -> Lookup:
    return get_json(client, work_url(apis.crossref_url, doi), {}, apis.max_attempts, _is_work)


def _first(values: Any) -> str | None:
    if isinstance(values, list):
        return next((v for v in values if isinstance(v, str) and v.strip()), None)
    return values if isinstance(values, str) else None


def _year(message: dict[str, Any]) -> int | None:
    for field in ("issued", "published", "published-print", "published-online", "created"):
        parts = (message.get(field) or {}).get("date-parts") or []
        if parts and parts[0] and isinstance(parts[0][0], int):
            return parts[0][0]
    return None


def _author(author: dict[str, Any]) -> str | None:
    # People have given/family; organisations only `name`.
    name = " ".join(p for p in (author.get("given"), author.get("family")) if p)
    return name or author.get("name")


def _is_retracted(message: dict[str, Any]) -> bool | None:
    """True when an update withdraws the work; None otherwise: Crossref's silence proves nothing."""
    updates = [u for u in message.get("updated-by") or [] if isinstance(u, dict)]
    if any(str(u.get("type", "")).lower() in RETRACTING_UPDATES for u in updates):
        return True
    relations = message.get("relation") or {}
    if isinstance(relations, dict) and relations.get("is-retracted-by"):
        return True
    return None


def work_fields(payload: dict[str, Any]) -> dict[str, Any]:
    message = payload["message"]
    cited = message.get("is-referenced-by-count")
    indexed = (message.get("indexed") or {}).get("date-time")
    return {
        "title": _first(message.get("title")),
        "year": _year(message),
        "venue": _first(message.get("container-title")),
        "authors": [name for name in (_author(a) for a in message.get("author") or [] if isinstance(a, dict)) if name],
        "cited_by_count": int(cited) if isinstance(cited, int) else None,
        "is_retracted": _is_retracted(message),
        "work_type": message.get("type"),
        "provider_id": str(message.get("DOI") or "").lower() or None,
        "provider_updated_at": indexed,
    }
