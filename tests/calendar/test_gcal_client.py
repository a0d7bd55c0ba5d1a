"""The Google Calendar client against the fake server, without a warehouse: token errors, a 401 that
persists, Google's rate-limit 403, and error messages that never carry a secret."""

from __future__ import annotations

import pytest

from resources.google_calendar import GoogleCalendarResource, refresh_token_env
from studentops_assets.calendar.gcal_client import GoogleApiError, SyncTokenExpired

from .fake_google import CLIENT_ID, CLIENT_SECRET, FakeGoogle, Fault

REFRESH = "1//0refresh-token-do-not-leak"


@pytest.fixture
def fake():
    server = FakeGoogle(refresh_tokens={REFRESH: "ada"})
    yield server
    server.close()


def client(fake, monkeypatch, refresh=REFRESH, **overrides):
    monkeypatch.setenv("STUDENTOPS_GCAL_REFRESH_TOKEN_ADA", refresh)
    resource = GoogleCalendarResource(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_base_url=fake.api_base_url,
        token_url=fake.token_url, timeout_seconds=0.5, max_attempts=3, backoff_factor=0.01,
        max_retry_delay_seconds=0.1, **overrides,
    )
    made, reason = resource.client_for("ada")
    assert reason is None
    return made


def pages(made, **params):
    return list(made.event_pages("primary", {"singleEvents": "true", **params}))


def test_refresh_token_env_name():
    assert refresh_token_env("noah-2") == "STUDENTOPS_GCAL_REFRESH_TOKEN_NOAH_2"


def test_a_revoked_refresh_token_is_a_readable_error(fake, monkeypatch):
    made = client(fake, monkeypatch, refresh="1//0revoked-do-not-leak")
    with pytest.raises(GoogleApiError) as failure:
        pages(made, timeMin="2026-01-01T00:00:00Z", timeMax="2026-02-01T00:00:00Z")
    assert str(failure.value) == "token refresh: HTTP 400 invalid_grant"
    assert "do-not-leak" not in repr(made) and CLIENT_SECRET not in repr(made)


def test_a_second_401_is_not_retried_forever(fake, monkeypatch):
    made = client(fake, monkeypatch)
    fake.faults.append(Fault("events", status=401, times=2))
    with pytest.raises(GoogleApiError) as failure:
        pages(made, timeMin="2026-01-01T00:00:00Z", timeMax="2026-02-01T00:00:00Z")
    assert str(failure.value) == "events.list: HTTP 401 authError"
    assert len(fake.requests("token")) == 2


def test_rate_limit_403_is_retried_and_410_raises_sync_token_expired(fake, monkeypatch):
    made = client(fake, monkeypatch)
    fake.faults.append(Fault("events", status=403))
    (page,) = pages(made, timeMin="2026-01-01T00:00:00Z", timeMax="2026-02-01T00:00:00Z")
    assert page["kind"] == "calendar#events" and page["items"] == [] and page["nextSyncToken"]
    assert [entry.status for entry in fake.requests("events")] == [403, 200]
    with pytest.raises(SyncTokenExpired) as failure:
        pages(made, syncToken="CPDAlvWDx_sync999=")
    assert str(failure.value) == "events.list: HTTP 410 fullSyncRequired"


def test_persistent_server_errors_end_in_a_message_without_the_url(fake, monkeypatch):
    made = client(fake, monkeypatch)
    fake.faults.append(Fault("events", status=500, times=-1))
    with pytest.raises(GoogleApiError) as failure:
        pages(made, syncToken="CPDAlvWDx_sync999=")
    assert str(failure.value) == "events.list: HTTP 500 backendError"
    assert len(fake.requests("events")) == 3  # max_attempts
