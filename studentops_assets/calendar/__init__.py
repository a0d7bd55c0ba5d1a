"""The calendar domain: `raw/ical_events` (iCal feeds: configured files and URLs, inbox .ics files)
and `raw/gcal_events` (Google Calendar API v3, full then incremental sync)."""
