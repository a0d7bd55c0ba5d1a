"""The Zotero Web API v3 as a Dagster resource: where it is, which key to use, how patient to be."""

from __future__ import annotations

import os
import re
from typing import Optional

import dagster as dg
from pydantic import Field

from studentops_assets.zotero.client import ZoteroClient

API_KEY_ENV = "STUDENTOPS_ZOTERO_API_KEY"
API_URL_ENV = "STUDENTOPS_ZOTERO_URL"


def student_key_env(slug: str) -> str:
    """`STUDENTOPS_ZOTERO_API_KEY_<SLUG>`: the slug upper-cased, anything but letters and digits as `_`."""
    return f"{API_KEY_ENV}_{re.sub(r'[^A-Z0-9]', '_', slug.upper())}"


class ZoteroResource(dg.ConfigurableResource):
    """Reads the students' Zotero libraries.

    `api_key` is the shared key, bound to `dg.EnvVar("STUDENTOPS_ZOTERO_API_KEY")` so the UI and run
    config show the variable's name, never the key. A student whose library needs its own key gets it
    from `STUDENTOPS_ZOTERO_API_KEY_<SLUG>` (e.g. `..._ADA`), which wins over the shared one. Keys only
    travel in the `Zotero-API-Key` header, and only to `api_base_url`.
    """

    api_base_url: str = Field(default="https://api.zotero.org", description="Zotero Web API root")
    api_key: Optional[str] = Field(default=None, description="Shared Zotero API key (secret, from the environment)")
    timeout_seconds: float = Field(default=30.0, description="Connect and read timeout of one request")
    max_attempts: int = Field(default=5, description="Tries per request on 429, 5xx, timeouts and dropped connections")
    backoff_factor: float = Field(default=1.0, description="Exponential wait between tries, in seconds, unless Retry-After says otherwise")
    max_retry_delay_seconds: float = Field(default=300.0, description="Longest wait between tries (also caps Retry-After)")
    page_size: int = Field(default=100, description="Items per page; Zotero serves at most 100")

    def api_key_for(self, slug: str) -> Optional[str]:
        own = os.environ.get(student_key_env(slug), "").strip()
        return own or (self.api_key or "").strip() or None

    def client(self) -> ZoteroClient:
        return ZoteroClient(
            base_url=self.api_base_url,
            timeout=self.timeout_seconds,
            max_attempts=self.max_attempts,
            backoff_factor=self.backoff_factor,
            max_retry_delay=self.max_retry_delay_seconds,
            page_size=self.page_size,
        )


def zotero_resource() -> ZoteroResource:
    """The resource as the code location binds it: the shared key from the environment when it is set.

    Dagster refuses to start a run whose EnvVar is unset, and Zotero is optional (students without a
    key are reported as "not configured"), so the variable is only bound when it exists.
    """
    bound: dict = {}
    if os.environ.get(API_KEY_ENV):
        bound["api_key"] = dg.EnvVar(API_KEY_ENV)
    # Not a secret: a mirror, a proxy or a local stand-in can replace the API (as for OpenAlex/Crossref).
    if os.environ.get(API_URL_ENV):
        bound["api_base_url"] = os.environ[API_URL_ENV]
    return ZoteroResource(**bound)
