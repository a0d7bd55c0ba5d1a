"""OpenAlex and Crossref, the two public APIs that resolve the DOIs students cite.

Both are free. OpenAlex asks for an API key (`api_key=`, free, needed for more than a trickle of
requests since February 2026) and, like Crossref's "polite pool", for a contact address. Both are
read from environment variables only (`scholarly_apis_from_env()`), and neither ever leaves this
module except in the outgoing request: failure reasons are composed from status codes, never from
exception texts (which carry the request URL and with it the key).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Optional

import dagster as dg
from dlt.sources.helpers.requests import Client
from pydantic import Field

OPENALEX_URL = "https://api.openalex.org"
CROSSREF_URL = "https://api.crossref.org"
PRODUCT = "StudentOps/0.1"


class _RedactQueryCredentials(logging.Filter):
    """urllib3 logs every request line at DEBUG, query string and with it `api_key=` included."""

    _CREDENTIAL = re.compile(r"((?:api_key|mailto)=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message or "mailto=" in message:
            record.msg, record.args = self._CREDENTIAL.sub(r"\1***", message), ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactQueryCredentials())


class ScholarlyApisResource(dg.ConfigurableResource):
    """Where and how politely to ask OpenAlex and Crossref about DOIs, and how long answers stay good."""

    openalex_url: str = Field(default=OPENALEX_URL, description="OpenAlex API base URL")
    crossref_url: str = Field(default=CROSSREF_URL, description="Crossref REST API base URL")
    contact_email: Optional[str] = Field(
        default=None, description="Polite-pool contact (STUDENTOPS_CONTACT_EMAIL): OpenAlex mailto, Crossref User-Agent"
    )
    openalex_api_key: Optional[str] = Field(default=None, description="OpenAlex API key (secret, OPENALEX_API_KEY)")
    timeout_seconds: float = Field(default=20.0, description="Per-request connect and read timeout")
    max_attempts: int = Field(default=4, description="Attempts per request on 429, 5xx, timeouts, connection errors")
    backoff_factor: float = Field(default=1.0, description="Exponential backoff multiplier between attempts")
    max_retry_delay_seconds: float = Field(default=60.0, description="Cap on one wait, Retry-After included")
    min_interval_seconds: float = Field(
        default=0.1, description="Pause between lookups: Crossref's polite pool allows about 10 requests/s"
    )
    resolved_ttl_days: float = Field(default=30.0, description="Re-check a resolved DOI after this many days")
    unresolved_ttl_days: float = Field(default=1.0, description="Retry an unresolved DOI after this many days")
    max_lookups_per_run: int = Field(default=500, description="DOIs looked up per run at most; the rest wait")

    def user_agent(self) -> str:
        # Crossref routes requests whose User-Agent carries a mailto: into its polite pool.
        return f"{PRODUCT} (mailto:{self.contact_email})" if self.contact_email else PRODUCT

    def http_client(self) -> Client:
        """dlt's requests client: retries 429/5xx/timeouts/connection errors with exponential backoff,
        honouring Retry-After (capped at `max_retry_delay_seconds`); statuses are checked by the caller."""
        return Client(
            request_timeout=self.timeout_seconds,
            raise_for_status=False,
            request_max_attempts=self.max_attempts,
            request_backoff_factor=self.backoff_factor,
            request_max_retry_delay=self.max_retry_delay_seconds,
            session_attrs={"headers": {"User-Agent": self.user_agent(), "Accept": "application/json"}},
        )

    def openalex_params(self) -> dict[str, str]:
        params = {}
        if self.contact_email:
            params["mailto"] = self.contact_email
        if self.openalex_api_key:
            params["api_key"] = self.openalex_api_key
        return params

    def secrets(self) -> list[str]:
        """Values that must never appear in logs, metadata, rows or quarantine (the contact address too:
        it is a person's email)."""
        return [v for v in (self.openalex_api_key, self.contact_email) if v]


def scholarly_apis_from_env() -> ScholarlyApisResource:
    """The resource with its secrets bound to environment variables by name (the UI shows the names).

    A variable that is not set is left out rather than bound: dg.EnvVar on an unset variable fails
    the run, and both values are optional.
    """
    bound: dict = {}
    # Base URLs are not secrets: a mirror or a proxy (or a local stand-in) can replace either API.
    for field, variable in (("openalex_url", "STUDENTOPS_OPENALEX_URL"), ("crossref_url", "STUDENTOPS_CROSSREF_URL")):
        if os.environ.get(variable):
            bound[field] = os.environ[variable]
    if os.environ.get("STUDENTOPS_SCHOLARLY_MAX_ATTEMPTS"):
        bound["max_attempts"] = int(os.environ["STUDENTOPS_SCHOLARLY_MAX_ATTEMPTS"])
    if os.environ.get("STUDENTOPS_CONTACT_EMAIL"):
        bound["contact_email"] = dg.EnvVar("STUDENTOPS_CONTACT_EMAIL")
    if os.environ.get("OPENALEX_API_KEY"):
        bound["openalex_api_key"] = dg.EnvVar("OPENALEX_API_KEY")
    return ScholarlyApisResource(**bound)
