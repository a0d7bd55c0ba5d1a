"""Google Calendar API access as a Dagster resource: OAuth client credentials, base URLs, retry policy.

`client_id` and `client_secret` are bound to `dg.EnvVar("STUDENTOPS_GOOGLE_CLIENT_ID")` and
`dg.EnvVar("STUDENTOPS_GOOGLE_CLIENT_SECRET")` by `google_calendar_resource()` when those variables
are set, so the UI shows the variables' names, never the values. Each student's refresh token is read
at run time from `STUDENTOPS_GCAL_REFRESH_TOKEN_<SLUG>` (the slug upper-cased, every character other
than a letter or digit turned into `_`: `noah-2` -> `STUDENTOPS_GCAL_REFRESH_TOKEN_NOAH_2`): students
come and go with studentops.yaml, so these cannot be fields bound at definition time.
"""

from __future__ import annotations

import os
import re
from typing import Optional

import dagster as dg
from pydantic import Field

from studentops_assets.calendar.gcal_client import GoogleCalendarClient, retrying_client

CLIENT_ID_ENV = "STUDENTOPS_GOOGLE_CLIENT_ID"
CLIENT_SECRET_ENV = "STUDENTOPS_GOOGLE_CLIENT_SECRET"
REFRESH_TOKEN_ENV_PREFIX = "STUDENTOPS_GCAL_REFRESH_TOKEN_"


def refresh_token_env(slug: str, prefix: str = REFRESH_TOKEN_ENV_PREFIX) -> str:
    return prefix + re.sub(r"[^A-Z0-9]", "_", slug.upper())


class GoogleCalendarResource(dg.ConfigurableResource):
    """Google Calendar API v3 (events.list) with OAuth refresh-token credentials."""

    client_id: Optional[str] = Field(default=None, description="OAuth client id (secret, from STUDENTOPS_GOOGLE_CLIENT_ID)")
    client_secret: Optional[str] = Field(default=None, description="OAuth client secret (secret, from STUDENTOPS_GOOGLE_CLIENT_SECRET)")
    api_base_url: str = Field(default="https://www.googleapis.com/calendar/v3", description="Calendar API base URL")
    token_url: str = Field(default="https://oauth2.googleapis.com/token", description="OAuth token endpoint")
    refresh_token_env_prefix: str = Field(default=REFRESH_TOKEN_ENV_PREFIX, description="Per-student refresh token variable prefix")
    timeout_seconds: float = Field(default=30.0, gt=0, description="Per-request timeout")
    max_attempts: int = Field(default=5, ge=1, description="Attempts per request (429/5xx/timeouts are retried)")
    backoff_factor: float = Field(default=1.0, ge=0, description="Exponential backoff multiplier, seconds")
    max_retry_delay_seconds: float = Field(default=60.0, ge=0, description="Longest wait between attempts (caps Retry-After)")
    page_size: int = Field(default=250, ge=1, le=2500, description="events.list maxResults")

    def client_for(self, slug: str) -> tuple[Optional[GoogleCalendarClient], Optional[str]]:
        """A client for the student, or (None, why not) without revealing any value."""
        variable = refresh_token_env(slug, self.refresh_token_env_prefix)
        missing = [name for name, value in ((CLIENT_ID_ENV, self.client_id), (CLIENT_SECRET_ENV, self.client_secret)) if not value]
        refresh_token = os.environ.get(variable)
        if not refresh_token:
            missing.append(variable)
        if missing:
            return None, f"{', '.join(missing)} not set"
        http = retrying_client(self.timeout_seconds, self.max_attempts, self.backoff_factor, self.max_retry_delay_seconds)
        return (
            GoogleCalendarClient(
                api_base_url=self.api_base_url,
                token_url=self.token_url,
                client_id=str(self.client_id),
                client_secret=str(self.client_secret),
                refresh_token=refresh_token,
                http=http,
                page_size=self.page_size,
            ),
            None,
        )


def google_calendar_resource() -> GoogleCalendarResource:
    """The resource for definitions.py: secrets bound to their variables only when these are set
    (an unset `dg.EnvVar` would fail every run, also for users without Google Calendar)."""
    secrets = {
        field: dg.EnvVar(variable)
        for field, variable in (("client_id", CLIENT_ID_ENV), ("client_secret", CLIENT_SECRET_ENV))
        if os.environ.get(variable)
    }
    # Base URLs are not secrets: a proxy (or a local stand-in in tests) can replace Google's.
    urls = {field: os.environ[variable] for field, variable in (("api_base_url", "STUDENTOPS_GOOGLE_API_URL"),
                                                                ("token_url", "STUDENTOPS_GOOGLE_TOKEN_URL"))
            if os.environ.get(variable)}
    return GoogleCalendarResource(**secrets, **urls)
