-- One row per calendar occurrence from iCal feeds, in UTC, latest version per occurrence.
select
    _natural_key                        as occurrence_key,
    student_id,
    feed,
    feed_kind,
    uid,
    starts_at,
    ends_at,
    is_all_day,
    start_date,
    end_date,
    timezone                            as original_timezone,
    is_recurring,
    is_override,
    summary,
    location,
    lower(status)                       as status,
    categories,
    sequence,
    last_modified,
    _loaded_at                          as loaded_at
from ({{ latest_per_key(source('raw', 'ical_events'), '_natural_key', '_loaded_at desc') }}) s
