"""raw/gcal_events against a fake Google Calendar on 127.0.0.1 (tests/calendar/fake_google.py):
full sync through 429/500/slow/token faults, incremental sync with cancellations, a 401 that
refreshes the access token, a 410 that forces a full resync, a server that dies after page 1 and an
extraction that crashes mid-sync; after each, the table equals the server's state, nothing is lost or
duplicated, the sync token never advances past what was loaded, and no secret is stored anywhere.

The steps run in file order against one warehouse and one fake server."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from resources.google_calendar import GoogleCalendarResource
from studentops_assets.calendar import gcal_source
from studentops_assets.calendar.assets import raw_gcal_events

from .fake_google import CLIENT_ID, CLIENT_SECRET, FakeGoogle, Fault
from .helpers import dump_everything, fingerprint, materialise, quarantine, query, raw_tables

ADA, GRACE, NOAH = "ada-0001", "grace-0002", "noah-0003"
REFRESH_ADA = "1//0refresh-token-ada-do-not-leak"
AMS = ZoneInfo("Europe/Amsterdam")
UTC = dt.timezone.utc
WINDOW = {"as_of": "2026-03-02", "past_days": 30, "future_days": 60}  # 2026-01-31 .. 2026-05-01
RUNS = []  # every run of this module, to search for secrets at the end


def timed(event_id: str, summary: str, local: str, minutes: int = 60, **extra) -> dict:
    start = dt.datetime.fromisoformat(local).replace(tzinfo=AMS)
    end = start + dt.timedelta(minutes=minutes)
    return {"id": event_id, "summary": summary,
            "start": {"dateTime": start.isoformat(), "timeZone": "Europe/Amsterdam"},
            "end": {"dateTime": end.isoformat(), "timeZone": "Europe/Amsterdam"}, **extra}


def instance(series: str, summary: str, local: str) -> dict:
    start = dt.datetime.fromisoformat(local).replace(tzinfo=AMS)
    event_id = f"{series}_{start.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return timed(event_id, summary, local, 105, recurringEventId=series,
                 originalStartTime={"dateTime": start.isoformat(), "timeZone": "Europe/Amsterdam"})


def all_day(event_id: str, summary: str, day: str) -> dict:
    first = dt.date.fromisoformat(day)
    return {"id": event_id, "summary": summary, "start": {"date": first.isoformat()},
            "end": {"date": (first + dt.timedelta(days=1)).isoformat()}, "transparency": "transparent"}


def expected(fake: FakeGoogle) -> set[tuple]:
    """The server's live events as rows: (id, summary, starts_at, ends_at, all-day date, series)."""
    out = set()
    for event in fake.live("ada").values():
        if "date" in event["start"]:
            day = dt.date.fromisoformat(event["start"]["date"])
            start = dt.datetime.combine(day, dt.time(0), tzinfo=AMS).astimezone(UTC)
            end = dt.datetime.combine(dt.date.fromisoformat(event["end"]["date"]), dt.time(0), tzinfo=AMS).astimezone(UTC)
        else:
            day = None
            start = dt.datetime.fromisoformat(event["start"]["dateTime"]).astimezone(UTC)
            end = dt.datetime.fromisoformat(event["end"]["dateTime"]).astimezone(UTC)
        if start >= dt.datetime(2026, 5, 1, tzinfo=UTC):
            continue  # outside the window: never part of a full sync
        out.add((event["id"], event["summary"], start, end, day, event.get("recurringEventId")))
    return out


def actual(warehouse) -> set[tuple]:
    got = query(warehouse, """
        select event_id, summary, starts_at, ends_at, start_date, recurring_event_id
        from raw.gcal_events where student_id = %s""", (ADA,))
    assert len(got) == len(set(got)), "duplicated rows"
    return set(got)


def run(env, raise_on_error: bool = True):
    fake, warehouse, resource = env
    result = materialise(raw_gcal_events, warehouse, WINDOW, raise_on_error=raise_on_error, google_calendar=resource)
    RUNS.append(result)
    return result


def events_requests_since(fake: FakeGoogle, mark: int):
    return [entry for entry in fake.log[mark:] if entry.kind == "events"]


@pytest.fixture(scope="module")
def env(new_home):
    fake = FakeGoogle(refresh_tokens={REFRESH_ADA: "ada"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDENTOPS_GCAL_REFRESH_TOKEN_ADA", REFRESH_ADA)
        patch.delenv("STUDENTOPS_GCAL_REFRESH_TOKEN_GRACE", raising=False)
        home, warehouse = new_home(students=[
            {"id": ADA, "slug": "ada", "google_calendar": {"calendar_id": "primary"}},
            {"id": GRACE, "slug": "grace", "google_calendar": {"calendar_id": "primary"}},
            {"id": NOAH, "slug": "noah"},
        ])
        resource = GoogleCalendarResource(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_base_url=fake.api_base_url,
            token_url=fake.token_url, timeout_seconds=0.5, max_attempts=4, backoff_factor=0.05,
            max_retry_delay_seconds=2, page_size=4,
        )
        yield fake, warehouse, resource
    fake.close()


def test_1_full_sync_through_rate_limits_errors_and_a_slow_page(env):
    fake, warehouse, _ = env
    for week in range(13):  # Mondays 2 February .. 27 April
        day = dt.date(2026, 2, 2) + dt.timedelta(weeks=week)
        fake.put("ada", instance("lecture", "Lecture", f"{day}T10:00"))
    fake.put("ada", timed("talk", "Guest talk", "2026-03-10T15:00"))
    fake.put("ada", all_day("exam", "Exam", "2026-03-20"))
    fake.put("ada", timed("summer", "Summer school", "2026-07-01T09:00"))  # beyond the window
    fake.faults += [
        Fault("token", status=500),
        Fault("events", status=429, retry_after=1),
        Fault("page2", status=500),
        Fault("page2", delay=1.5),  # beyond the client's 0.5 s timeout
    ]
    mark = len(fake.log)
    result = run(env)
    assert fake.faults == []
    assert actual(warehouse) == expected(fake) and len(expected(fake)) == 15
    assert query(warehouse, "select count(*) from raw.gcal_events where event_id = 'summer'") == [(0,)]
    # The 429's Retry-After (1 s) was honoured before the request was repeated.
    calls = events_requests_since(fake, mark)
    limited = next(i for i, c in enumerate(calls) if c.status == 429)
    assert calls[limited + 1].at - calls[limited].at >= 1.0
    assert all("timeMin" in c.params and c.params["singleEvents"] == "true" for c in calls if "pageToken" not in c.params)
    outcomes = result.meta("sync_by_student")
    assert "- ada: full sync: 15 written, 0 deleted" in outcomes
    assert "- grace: not configured: STUDENTOPS_GCAL_REFRESH_TOKEN_GRACE not set" in outcomes
    assert "- noah: not configured: no google_calendar in studentops.yaml" in outcomes
    assert result.meta("google_calendar") == "1 of 3 students configured"
    (row,) = query(warehouse, """
        select calendar_id, is_all_day, start_date, end_date, timezone, transparency, _source, _record ->> 'kind'
        from raw.gcal_events where event_id = 'exam'""")
    assert row == ("primary", True, dt.date(2026, 3, 20), dt.date(2026, 3, 21), "Europe/Amsterdam", "transparent",
                   "gcal", "calendar#event")


def test_2_rerun_without_changes_is_incremental_and_changes_nothing(env):
    fake, warehouse, _ = env
    before = fingerprint(warehouse, raw_tables(warehouse))
    mark = len(fake.log)
    result = run(env)
    (call,) = events_requests_since(fake, mark)
    assert "syncToken" in call.params and "timeMin" not in call.params
    assert fingerprint(warehouse, raw_tables(warehouse)) == before
    assert result.meta("rows_written") == 0


def test_3_incremental_sync_applies_updates_and_cancellations_after_a_401(env):
    fake, warehouse, _ = env
    fake.put("ada", timed("talk", "Guest talk (room changed)", "2026-03-10T15:00"))
    fake.delete("ada", "lecture_20260309T090000Z")  # one instance cancelled
    fake.delete("ada", "exam")
    fake.put("ada", timed("lab", "Lab session", "2026-03-12T13:00", 120))
    fake.faults.append(Fault("events", status=401))  # the access token was revoked meanwhile
    mark = len(fake.log)
    result = run(env)
    assert actual(warehouse) == expected(fake)
    assert len([c for c in fake.log[mark:] if c.kind == "token"]) == 2  # one refresh after the 401
    assert "ada: incremental sync: 2 written, 2 deleted" in result.meta("sync_by_student")


def test_4_expired_sync_token_means_a_full_resync_that_deletes_what_is_gone(env):
    fake, warehouse, _ = env
    fake.expire_sync_tokens()
    fake.delete("ada", "lab", purge=True)  # gone without a trace: only a full sync can notice
    fake.put("ada", timed("seminar", "Seminar", "2026-04-14T11:00"))
    mark = len(fake.log)
    result = run(env)
    calls = events_requests_since(fake, mark)
    assert calls[0].status == 410 and "timeMin" in calls[1].params and "syncToken" not in calls[1].params
    assert actual(warehouse) == expected(fake)
    assert "ada: full resync (sync token expired, 410): 1 written, 1 deleted" in result.meta("sync_by_student")


def test_5_server_dying_after_page_one_loses_nothing_and_keeps_the_token(env):
    fake, warehouse, _ = env
    for week in range(6):
        day = dt.date(2026, 3, 16) + dt.timedelta(weeks=week)
        fake.put("ada", instance("lecture", f"Lecture, week {week}", f"{day}T10:00"))
    fake.faults.append(Fault("page2", drop=True, times=-1))
    mark = len(fake.log)
    result = run(env, raise_on_error=False)
    token_used = events_requests_since(fake, mark)[0].params["syncToken"]
    # An outage is red: the step fails with one line naming the source and the student.
    assert not result.result.success
    (failure,) = [e for e in result.result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_failure_data.user_failure_data.description == (
        "Google Calendar unavailable: ada: events.list: connection failed after retries")
    assert result.metadata == {}  # the only calendar failed: nothing new, no materialisation
    assert quarantine(warehouse, "gcal") == [(ADA, "calendar:primary", "sync",
        "events.list: connection failed after retries; sync token not advanced, earlier rows kept")]
    fake.faults.clear()
    mark = len(fake.log)
    run(env)
    assert events_requests_since(fake, mark)[0].params["syncToken"] == token_used  # not advanced
    assert actual(warehouse) == expected(fake)
    assert quarantine(warehouse, "gcal") == []


def test_6_a_crash_mid_extraction_loads_nothing_and_the_rerun_recovers(env, monkeypatch):
    fake, warehouse, _ = env
    for week in range(6):
        day = dt.date(2026, 3, 16) + dt.timedelta(weeks=week)
        fake.put("ada", instance("lecture", f"Lecture v2, week {week}", f"{day}T10:00"))
    before = fingerprint(warehouse, ('raw."gcal_events"', 'raw."_dlt_pipeline_state"'))
    real_row = gcal_source.event_row
    calls = {"n": 0}

    def crash_on_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 5:  # from the first event of page 2 on, in every retry of the step too
            raise RuntimeError("worker killed mid-sync")
        return real_row(*args, **kwargs)

    monkeypatch.setattr(gcal_source, "event_row", crash_on_fifth)
    mark = len(fake.log)
    failed = run(env, raise_on_error=False)
    assert not failed.result.success
    token_used = events_requests_since(fake, mark)[0].params["syncToken"]
    assert fingerprint(warehouse, ('raw."gcal_events"', 'raw."_dlt_pipeline_state"')) == before
    monkeypatch.setattr(gcal_source, "event_row", real_row)
    mark = len(fake.log)
    run(env)
    assert events_requests_since(fake, mark)[0].params["syncToken"] == token_used
    assert actual(warehouse) == expected(fake)


def test_7_an_unusable_event_is_quarantined_until_it_is_fixed(env):
    fake, warehouse, _ = env
    fake.put("ada", {"id": "broken", "summary": "No times", "start": {}, "end": {}})
    run(env)
    assert quarantine(warehouse, "gcal") == [(ADA, "calendar:primary/event:broken", "event",
                                               "start/end has neither dateTime nor date, not loaded")]
    fake.put("ada", timed("broken", "Times fixed", "2026-03-25T09:00"))
    run(env)
    assert quarantine(warehouse, "gcal") == []
    assert actual(warehouse) == expected(fake)


def test_8_no_secret_is_stored_or_logged(env):
    fake, warehouse, _ = env
    secrets = [CLIENT_SECRET, REFRESH_ADA, *fake.issued_access_tokens]
    assert len(fake.issued_access_tokens) >= len(RUNS)
    stored = dump_everything(warehouse)
    for secret in secrets:
        assert secret not in stored
        for result in RUNS:
            assert secret not in str(result.metadata) and secret not in result.logs_text


def test_nobody_with_google_calendar_is_observed_not_materialised(new_home, monkeypatch):
    monkeypatch.delenv("STUDENTOPS_GCAL_REFRESH_TOKEN_ADA", raising=False)
    home, warehouse = new_home(students=[
        {"id": ADA, "slug": "ada", "google_calendar": {"calendar_id": "primary"}},
        {"id": NOAH, "slug": "noah"},
    ])
    result = materialise(raw_gcal_events, warehouse, WINDOW, google_calendar=GoogleCalendarResource())
    # No materialisation (the table is not fresh data), an observation and a WARN check saying why.
    assert result.metadata == {}
    (observation,) = result.result.asset_observations_for_node("raw_gcal_events")
    status = observation.metadata["source_status"].value
    assert status.startswith("not configured: no student has Google Calendar credentials")
    assert "ada: not configured: STUDENTOPS_GOOGLE_CLIENT_ID, STUDENTOPS_GOOGLE_CLIENT_SECRET, " \
           "STUDENTOPS_GCAL_REFRESH_TOKEN_ADA not set" in status
    (check,) = [c for c in result.result.get_asset_check_evaluations() if c.check_name == "source_configured"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN and check.description == status
    # The table exists with every declared column, empty, for the models downstream.
    columns = {c for (c,) in query(warehouse, """
        select column_name from information_schema.columns where table_schema = 'raw' and table_name = 'gcal_events'""")}
    assert set(gcal_source.GCAL_COLUMNS) <= columns
    assert query(warehouse, "select count(*) from raw.gcal_events") == [(0,)]
