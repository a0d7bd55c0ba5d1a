"""OpenAlex: `GET /works/doi:{doi}` and the fields the citation cache keeps from a Work.

Work object reference: https://docs.openalex.org/api-entities/works/work-object
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from resources.scholarly_apis import ScholarlyApisResource

from .http_lookup import Lookup, get_json

PROVIDER = "openalex"


def work_url(base_url: str, doi: str) -> str:
    # A DOI may hold any printable character (`10.1002/(SICI)1097-...;2-#`); only the slashes stay.
    return f"{base_url.rstrip('/')}/works/doi:{quote(doi, safe='/')}"


def fetch_work(apis: ScholarlyApisResource, client: Any, doi: str) -> Lookup:
    return get_json(
        client,
        work_url(apis.openalex_url, doi),
        apis.openalex_params(),
        apis.max_attempts,
        lambda payload: isinstance(payload, dict) and bool(payload.get("id")),
    )


def _dig(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def work_fields(work: dict[str, Any]) -> dict[str, Any]:
    authors = [
        name for name in (_dig(a, "author", "display_name") for a in work.get("authorships") or []) if name
    ]
    year = work.get("publication_year")
    cited = work.get("cited_by_count")
    retracted = work.get("is_retracted")
    return {
        "title": work.get("title") or work.get("display_name"),
        "year": int(year) if isinstance(year, int) else None,
        "venue": _dig(work, "primary_location", "source", "display_name"),
        "authors": authors,
        "cited_by_count": int(cited) if isinstance(cited, int) else None,
        "is_retracted": retracted if isinstance(retracted, bool) else None,
        "work_type": work.get("type"),
        "provider_id": work.get("id"),
        "provider_updated_at": work.get("updated_date"),
    }
