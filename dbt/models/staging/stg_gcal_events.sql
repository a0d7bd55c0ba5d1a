-- One row per Google Calendar event instance, in UTC, latest version per event.
select
    _natural_key                        as event_key,
    student_id,
    calendar_id,
    event_id,
    ical_uid,
    lower(status)                       as status,
    summary,
    location,
    starts_at,
    ends_at,
    is_all_day,
    start_date,
    end_date,
    timezone                            as original_timezone,
    recurring_event_id,
    event_type,
    source_updated_at,
    _loaded_at                          as loaded_at
from ({{ latest_per_key(source('raw', 'gcal_events'), '_natural_key', '_loaded_at desc') }}) s
