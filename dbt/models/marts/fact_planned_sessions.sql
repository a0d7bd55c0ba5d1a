-- Study sessions still PLANNED: calendar events matched to a course that had not ended when the model
-- was built (scheduled into the future, or under way). Once an event ends, the next build moves it
-- to fact_study_sessions. Kept apart so that no sum over sessions mixes the future with the past.
with {{ calendar_sessions() }}

select
    md5(source || ':' || event_id)                                      as session_sk,
    student_id,
    event_id,
    course_code,
    start_at,
    end_at,
    (start_at at time zone '{{ var("study_timezone") }}')::date        as start_local_date,
    duration_minutes                                                    as scheduled_minutes,
    source
from calendar
where end_at > current_timestamp
