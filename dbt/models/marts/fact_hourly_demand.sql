-- Hourly demand per course: platform viewing sessions started plus calendar study sessions (lectures
-- and study blocks from the students' own calendars) that start in the hour. Every course of the
-- platform's catalogue gets every hour, zeros included, from the first recorded viewing session to the
-- hour of the latest one: the forecaster needs the quiet hours, and the spine stops at the data's own
-- watermark rather than the clock, so a replica that lags behind does not end in fake zeros.
-- Hours are UTC instants (`hour_start`); the local hour and weekday in the study timezone are beside
-- them (a DST change gives one local hour twice, or skips one; the instants stay unique).
{{
    config(
        indexes=[{'columns': ['demand_sk'], 'unique': true}, {'columns': ['course_code', 'hour_start']}],
    )
}}

{% set tz = var("study_timezone") %}

with bounds as (
    select date_trunc('hour', min(started_at)) as first_hour, date_trunc('hour', max(started_at)) as last_hour
    from {{ ref('fact_material_views') }}
),

courses as (
    select course_code from {{ ref('dim_courses') }} where in_platform
),

hours as (
    select h as hour_start
    from bounds
    cross join lateral generate_series(bounds.first_hour, bounds.last_hour, interval '1 hour') as h
    where bounds.first_hour is not null
),

viewing as (
    select course_code, date_trunc('hour', started_at) as hour_start, count(*) as viewing_sessions
    from {{ ref('fact_material_views') }}
    where course_code is not null
    group by 1, 2
),

calendar as (
    select course_code, date_trunc('hour', start_at) as hour_start, count(*) as calendar_sessions
    from {{ ref('fact_study_sessions') }}
    where source in ('ical', 'gcal') and course_code is not null
    group by 1, 2
)

select
    md5(c.course_code || ':' || h.hour_start::text)                   as demand_sk,
    c.course_code,
    h.hour_start,
    (h.hour_start at time zone '{{ tz }}')::date                      as local_date,
    extract(hour from h.hour_start at time zone '{{ tz }}')::integer  as local_hour,
    extract(isodow from h.hour_start at time zone '{{ tz }}')::integer as local_isodow,
    coalesce(v.viewing_sessions, 0)::integer                          as viewing_sessions,
    coalesce(k.calendar_sessions, 0)::integer                         as calendar_sessions,
    (coalesce(v.viewing_sessions, 0) + coalesce(k.calendar_sessions, 0))::integer as demand
from courses as c
cross join hours as h
left join viewing as v on v.course_code = c.course_code and v.hour_start = h.hour_start
left join calendar as k on k.course_code = c.course_code and k.hour_start = h.hour_start
