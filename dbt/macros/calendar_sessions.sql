{#- The calendar events that are study sessions: a known course code in the title or the categories
    ("CS101 lecture", "Study block: MATH201 review"); all-day and cancelled events are not sessions.
    Shared by fact_study_sessions (sessions that have ended) and fact_planned_sessions (the rest). -#}
{% macro calendar_sessions() -%}
calendar_events as (
    select 'ical' as source, student_id, occurrence_key as event_id, summary,
           coalesce(categories::text, '') as categories, starts_at, ends_at
    from {{ ref('stg_ical_events') }}
    where not is_all_day and coalesce(status, '') <> 'cancelled'
    union all
    select 'gcal', student_id, event_key, summary, '', starts_at, ends_at
    from {{ ref('stg_gcal_events') }}
    where not is_all_day and coalesce(status, '') <> 'cancelled'
),

calendar_matched as (
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
        {{ student_uuid('student_id') }}                     as student_id,
        event_id,
        course_code,
        starts_at                                            as start_at,
        ends_at                                              as end_at,
        round(extract(epoch from ends_at - starts_at) / 60.0, 2) as duration_minutes
    from calendar_matched
    -- A session lasts more than nothing and less than a day (multi-day blocks are not study sessions).
    where ends_at > starts_at and ends_at - starts_at < interval '1 day'
)
{%- endmacro %}
