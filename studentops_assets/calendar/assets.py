"""`raw/ical_events` and `raw/gcal_events`: the students' calendars, loaded with dlt."""


import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource
from pydantic import Field

from resources.google_calendar import GoogleCalendarResource
from resources.warehouse import WarehouseResource
from studentops_assets.core.dlt_support import RawTableTranslator, raw_pipeline
from studentops_assets.core.health import (
    not_configured_outputs,
    source_configured_results,
    source_configured_specs,
    source_failure,
)
from studentops_assets.core.network_loaders import network_dlt_assets
from studentops_assets.core.quarantine import QuarantineBatch
from studentops_assets.core.raw_loads import QuarantineFlusher, raw_table_stats
from studentops_assets.core.settings import Student

from . import gcal_source as gcal
from . import ical_source as ical
from .ical_feeds import fetch, plan_feeds
from .retrying_http import retrying_client
from .window import CalendarWindowConfig, Window

translator = RawTableTranslator(
    group_name="calendar",
    descriptions={
        "ical_events": (
            "One row per event occurrence per configured student, from the iCal feeds in studentops.yaml "
            "(`calendars:` files and http(s) URLs) and the .ics files in the inbox. Recurrences are expanded "
            "over a window around the run date (default -30/+180 days) with EXDATE and RECURRENCE-ID "
            "overrides applied; times in UTC with the original TZID kept, all-day events flagged. A feed "
            "that cannot be fetched or parsed keeps its earlier rows; bad events go to meta.quarantine."
        ),
        "gcal_events": (
            "One row per Google Calendar event instance per configured student (`google_calendar:` in "
            "studentops.yaml), from the Calendar API v3 events.list: a full sync over the window, then "
            "incremental syncs with the stored sync token (410 -> full resync); cancelled events are "
            "deleted. Students without credentials load nothing and are reported as not configured."
        ),
    },
)


class ICalRunConfig(CalendarWindowConfig):
    """Window plus the retry policy for feed URLs (dlt's retrying requests client)."""

    feed_timeout_seconds: float = Field(default=30.0, gt=0, description="Per-request timeout for feed URLs")
    feed_max_attempts: int = Field(default=4, ge=1, description="Attempts per feed URL (429/5xx/timeouts retried)")
    feed_backoff_factor: float = Field(default=1.0, ge=0, description="Exponential backoff multiplier, seconds")
    feed_max_retry_delay_seconds: float = Field(default=30.0, ge=0, description="Longest wait between attempts")


def _md_list(items: list[str], empty: str = "none") -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {item}" for item in items) or empty)


def _window_text(window: Window) -> str:
    return f"{window.start:%Y-%m-%d} .. {window.end:%Y-%m-%d} (UTC, end exclusive)"


@network_dlt_assets(
    dlt_source=ical.ical_source(),
    dlt_pipeline=raw_pipeline("ical"),
    name="raw_ical_events",
    dagster_dlt_translator=translator,
    pool="dlt_ical",
)
def raw_ical_events(
    context: dg.AssetExecutionContext, dlt: DagsterDltResource, warehouse: WarehouseResource, config: ICalRunConfig
) -> Iterator[dg.MaterializeResult]:
    settings = warehouse.settings()
    loaded_at = dt.datetime.now(dt.timezone.utc)
    window = config.window(loaded_at)
    feeds, unmatched = plan_feeds(settings)
    client = retrying_client(config.feed_timeout_seconds, config.feed_max_attempts, config.feed_backoff_factor,
                             config.feed_max_retry_delay_seconds)
    report = ical.ICalReport()
    flush_quarantine = QuarantineFlusher(warehouse)

    source = ical.ical_source(
        feeds=feeds,
        unmatched=unmatched,
        configured_students=[s.id for s in settings.students],
        window=window,
        fetch=lambda feed: fetch(feed, client),
        quarantine=QuarantineBatch(ical.SOURCE),
        loaded_at=loaded_at,
        report=report,
        flush_quarantine=flush_quarantine,
    )
    pipeline = raw_pipeline("ical", settings, warehouse.dlt_credentials())
    results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
    stats = raw_table_stats(warehouse, "ical_events", ical.SOURCE)
    unreachable = [f for f in report.failed_feeds if "feed not fetched:" in f and "unsupported URL scheme" not in f]
    # Only unreachable feeds and nothing else read: nothing new is in the table, so no materialisation.
    for result in results if not unreachable or report.feeds_parsed or report.feeds_unchanged else []:
        yield dg.MaterializeResult(
            asset_key=result.asset_key,
            metadata={
                **(result.metadata or {}),
                **stats.metadata(flush_quarantine.issues),
                "window": dg.MetadataValue.text(_window_text(window)),
                "feeds": dg.MetadataValue.int(report.feeds),
                "feeds_parsed": dg.MetadataValue.int(report.feeds_parsed),
                "feeds_unchanged": dg.MetadataValue.int(report.feeds_unchanged),
                "feeds_failed": dg.MetadataValue.int(len(report.failed_feeds)),
                "failed_feeds": _md_list(report.failed_feeds),
                "unmatched_inbox_files": _md_list(report.unmatched_files),
                "rows_written": dg.MetadataValue.int(report.rows_written),
                "rows_deleted": dg.MetadataValue.int(report.rows_deleted),
            },
        )
    # A feed URL that did not answer (after the client's retries) is an outage: the other feeds are
    # loaded above and that feed's earlier rows kept, then the step fails so the run shows red and
    # the loader's RetryPolicy tries again. Files that cannot be read or parsed are data problems:
    # they are in meta.quarantine (quarantine_rate check), not a reason to fail.
    if unreachable:
        others = report.feeds_parsed + report.feeds_unchanged
        # A URL that answers 4xx (other than 429) will answer the same in a few minutes: not retried.
        retryable = not all(gcal.refused(feed) for feed in unreachable)
        raise source_failure("iCal feed", unreachable, retryable=retryable,
                             loaded=f"{others} other feeds read" if others else "")


def calendar_id_of(student: Student) -> str | None:
    """`google_calendar: {calendar_id: ...}` (default `primary`), or a bare calendar id string."""
    value: Any = student.options.get("google_calendar")
    if value is None or value is False:
        return None
    if isinstance(value, Mapping):
        return str(value.get("calendar_id") or "primary")
    if value is True:
        return "primary"
    return str(value)


def calendar_targets(students: tuple[Student, ...], google: GoogleCalendarResource) -> list[gcal.CalendarTarget]:
    targets = []
    for student in students:
        calendar_id = calendar_id_of(student)
        base = dict(student_id=student.id, slug=student.slug, calendar_id=calendar_id, timezone=student.timezone)
        if calendar_id is None:
            targets.append(gcal.CalendarTarget(**base, reason="no google_calendar in studentops.yaml"))
            continue
        client, reason = google.client_for(student.slug)
        targets.append(gcal.CalendarTarget(**base, client=client, reason=reason))
    return targets


@network_dlt_assets(
    dlt_source=gcal.gcal_source(),
    dlt_pipeline=raw_pipeline("gcal"),
    name="raw_gcal_events",
    dagster_dlt_translator=translator,
    pool="dlt_gcal",
    check_specs=lambda keys: source_configured_specs(
        keys, "Google Calendar (OAuth client and a student's refresh token and `google_calendar:`)"
    ),
)
def raw_gcal_events(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    warehouse: WarehouseResource,
    google_calendar: GoogleCalendarResource,
    config: CalendarWindowConfig,
) -> Iterator[dg.MaterializeResult]:
    settings = warehouse.settings()
    loaded_at = dt.datetime.now(dt.timezone.utc)
    window = config.window(loaded_at)
    targets = calendar_targets(settings.students, google_calendar)
    configured = [t for t in targets if t.client is not None]
    report = gcal.GcalReport()
    flush_quarantine = QuarantineFlusher(warehouse)

    source = gcal.gcal_source(
        targets=targets,
        window=window,
        quarantine=QuarantineBatch(gcal.SOURCE),
        loaded_at=loaded_at,
        report=report,
        flush_quarantine=flush_quarantine,
    )
    pipeline = raw_pipeline("gcal", settings, warehouse.dlt_credentials())
    # Also without any calendar: the first run creates the empty table the dbt models read, and the
    # quarantine of students who dropped their calendar is cleared.
    results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
    outcomes = [f"{slug}: {outcome}" for slug, outcome in report.outcomes.items()]
    if not configured:
        why = "no student has Google Calendar credentials and a calendar (" + "; ".join(outcomes or ["no students"]) + ")"
        yield from not_configured_outputs(context, why)
        yield from source_configured_results(context, why)
        return
    stats = raw_table_stats(warehouse, "gcal_events", gcal.SOURCE)
    # Students who asked for a calendar (`google_calendar:` set) but whose credentials are missing.
    missing = [t.slug for t in targets if t.client is None and t.calendar_id is not None]
    synced = len(configured) - len(report.failed)
    # When every calendar failed, nothing new is in the table: no materialisation (it would count
    # as fresh), only the failure.
    for result in results if synced else []:
        yield dg.MaterializeResult(
            asset_key=result.asset_key,
            metadata={
                **(result.metadata or {}),
                **stats.metadata(flush_quarantine.issues),
                "window": dg.MetadataValue.text(_window_text(window)),
                "google_calendar": dg.MetadataValue.text(f"{len(configured)} of {len(targets)} students configured"),
                "sync_by_student": _md_list(outcomes),
                "sync_failures": dg.MetadataValue.int(report.failures),
                "rows_written": dg.MetadataValue.int(report.rows_written),
                "rows_deleted": dg.MetadataValue.int(report.rows_deleted),
            },
        )
    yield from source_configured_results(
        context,
        f"credentials missing for {', '.join(missing)}" if missing else None,
        f"{len(configured)} of {len(targets)} students",
    )
    if report.failed:
        # The others' calendars are loaded (and their sync tokens committed) above; the failed ones
        # kept their tokens, so a retry or the next run reads the same changes again.
        raise source_failure(
            "Google Calendar",
            [f"{slug}: {reason}" for slug, reason in report.failed.items()],
            # A refused grant or client (401/403 after the token refresh) will not fix itself.
            retryable=not all(gcal.refused(reason) for reason in report.failed.values()),
            loaded=f"{synced} other calendars loaded" if synced else "",
        )
