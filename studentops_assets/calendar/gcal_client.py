"""A small client for Google Calendar API v3 `events.list`, with OAuth access tokens from a refresh token.

HTTP goes through dlt's retrying requests client: 429, 5xx, timeouts and dropped connections are
retried with exponential backoff honouring Retry-After; so is a 403 whose reason is one of Google's
rate-limit reasons (Calendar answers quota exhaustion with 403 as well as 429). A 401 refreshes the
access token once and repeats the request. A 410 (the sync token expired) raises `SyncTokenExpired`.

No secret ever goes into an exception message: errors carry the status and Google's error reason
only, never a URL (its query holds sync/page tokens), a token or a response body.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from dlt.sources.helpers.requests import Client, Response

from .retrying_http import network_failure
from .retrying_http import retrying_client as _retrying_client

RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


class GoogleApiError(Exception):
    """A request that failed for good (after retries); the message is safe to log and store."""


class SyncTokenExpired(GoogleApiError):
    """410 Gone: the sync token is no longer valid and a full sync is required."""


def error_reason(response: Response | None) -> str:
    """Google's machine-readable reason from an error body (`error.errors[0].reason`, `error.status`,
    or the OAuth `error` code), else empty."""
    if response is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):  # OAuth token endpoint: {"error": "invalid_grant", ...}
        return error
    if isinstance(error, dict):
        errors = error.get("errors") or []
        if errors and isinstance(errors[0], dict) and errors[0].get("reason"):
            return str(errors[0]["reason"])
        return str(error.get("status") or "")
    return ""


def _rate_limited(response: Response | None, exception: BaseException | None) -> bool:
    return response is not None and response.status_code == 403 and error_reason(response) in RATE_LIMIT_REASONS


def retrying_client(timeout_seconds: float, max_attempts: int, backoff_factor: float, max_delay_seconds: float) -> Client:
    """dlt's retrying client, also retrying Google's rate-limit 403s."""
    return _retrying_client(timeout_seconds, max_attempts, backoff_factor, max_delay_seconds, _rate_limited)


def _describe_failure(what: str, exc: BaseException) -> str:
    return f"{what}: {network_failure(exc)} after retries"


@dataclass
class GoogleCalendarClient:
    api_base_url: str
    token_url: str
    client_id: str
    client_secret: str
    refresh_token: str
    http: Client
    page_size: int = 250
    _access_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never show credentials
        return f"GoogleCalendarClient(api_base_url={self.api_base_url!r})"

    def refresh_access_token(self) -> str:
        try:
            response = self.http.post(
                self.token_url,
                data={
                    "grant_type": "refresh_token",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "refresh_token": self.refresh_token,
                },
                headers={"Accept": "application/json"},
            )
        except Exception as exc:
            raise GoogleApiError(_describe_failure("token refresh", exc)) from None
        if response.status_code >= 400:
            reason = error_reason(response)
            raise GoogleApiError(f"token refresh: HTTP {response.status_code}" + (f" {reason}" if reason else ""))
        try:
            token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise GoogleApiError("token refresh: response has no access_token") from None
        self._access_token = str(token)
        return self._access_token

    def _get(self, url: str, params: Mapping[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            token = self._access_token or self.refresh_access_token()
            try:
                response = self.http.get(
                    url, params=dict(params), headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
                )
            except Exception as exc:
                raise GoogleApiError(_describe_failure("events.list", exc)) from None
            if response.status_code == 401 and attempt == 1:
                self._access_token = None  # expired or revoked access token: refresh once
                continue
            break
        reason = error_reason(response)
        if response.status_code == 410:
            raise SyncTokenExpired(f"events.list: HTTP 410 {reason or 'Gone'}")
        if response.status_code >= 400:
            raise GoogleApiError(f"events.list: HTTP {response.status_code}" + (f" {reason}" if reason else ""))
        try:
            page = response.json()
        except ValueError:
            raise GoogleApiError("events.list: response is not JSON") from None
        if not isinstance(page, dict) or not isinstance(page.get("items", []), list):
            raise GoogleApiError("events.list: response is not an events list")
        return page

    def event_pages(self, calendar_id: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of one events.list query, following nextPageToken."""
        url = f"{self.api_base_url.rstrip('/')}/calendars/{quote(calendar_id, safe='@')}/events"
        query = {**params, "maxResults": self.page_size}
        while True:
            page = self._get(url, query)
            yield page
            next_page = page.get("nextPageToken")
            if not next_page:
                return
            query = {**params, "maxResults": self.page_size, "pageToken": next_page}
