-- Study time per session: calendar events matched to a course (a course code in the title or the
-- categories, e.g. "CS101 lecture", "Study block: MATH201 review"), and platform viewing sessions
-- (their active time). Calendar durations are the scheduled length; all-day and cancelled events
-- are not sessions.
with calendar_events as (
    select 'ical' as source, student_id, occurrence_key as event_id, summary,
           coalesce(categories::text, '') as categories, starts_at, ends_at
    from {{ ref('stg_ical_events') }}
    where not is_all_day and coalesce(status, '') <> 'cancelled'
    union all
    select 'gcal', student_id, event_key, summary, '', starts_at, ends_at
    from {{ ref('stg_gcal_events') }}
    where not is_all_day and coalesce(status, '') <> 'cancelled'
),

matched as (
    select e.*, match.course_code
    from calendar_events as e
    cross join lateral (
        -- The first code-shaped word that is a known course ("Week 12" is code-shaped, not a course).
        select d.course_code
        from regexp_matches(coalesce(e.summary, '') || ' ' || e.categories, '([A-Za-z]{2,6})[ -]?([0-9]{2,4})', 'g')
            with ordinality as m(parts, position)
        join {{ ref('dim_courses') }} as d on d.course_code = upper(m.parts[1] || m.parts[2])
        order by m.position
        limit 1
    ) as match
),

calendar as (
    select
        source,
        student_id,
        event_id,
        course_code,
        starts_at                                            as start_at,
        round(extract(epoch from ends_at - starts_at) / 60.0, 2) as duration_minutes
    from matched
),

platform as (
    select
        'platform'                          as source,
        student_id::text                    as student_id,
        session_id::text                    as event_id,
        course_code,
        started_at                          as start_at,
        round(active_seconds / 60.0, 2)     as duration_minutes
    from {{ ref('fact_material_views') }}
)

select
    md5(source || ':' || event_id)                                      as session_sk,
    student_id,
    event_id,
    course_code,
    start_at,
    (start_at at time zone '{{ var("study_timezone") }}')::date        as start_local_date,
    duration_minutes,
    source
from (select * from calendar union all select * from platform) as sessions
-- A session lasts more than nothing and less than a day (multi-day blocks are not study sessions).
where duration_minutes > 0 and duration_minutes < 1440
