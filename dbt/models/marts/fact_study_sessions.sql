-- Study sessions that HAPPENED: calendar events matched to a course that had ended when the model was
-- built, and platform viewing sessions (their active time). Calendar durations are the scheduled
-- length. Events still to come (calendars reach to the end of the month) are in
-- fact_planned_sessions, so a plain weekly sum of duration_minutes here never counts the future.
-- Incremental: the platform part is most of the rows and only grows at its end, so a run re-reads the
-- platform sessions of fact_material_views' own two-day window; the calendar part is small and any
-- event may have moved or gone, so a run replaces all of it (the pre-hook deletes it first).
-- `dbt build --full-refresh` gives the same rows.
{#- The platform sessions a run re-reads, declared once: the model's SQL and its tests' window
    (tested_windows.sql; the calendar part, rewritten whole, is always in it) read it. -#}
{% set lookback = "interval '2 days'" %}
{{
    config(
        materialized='incremental',
        unique_key='session_sk',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['session_sk'], 'unique': true},
            {'columns': ['student_id', 'start_local_date']},
            {'columns': ['source', 'start_at']},
        ],
        pre_hook="{% if is_incremental() %}delete from {{ this }} where source <> 'platform'{% endif %}",
        meta={'tested_window': {'through': "max(start_at) filter (where source = 'platform')", 'type': 'timestamptz',
                                'rows': "source <> 'platform' or start_at >= {through} - " ~ lookback}},
    )
}}

with {{ calendar_sessions() }},

platform as (
    select
        'platform'                          as source,
        student_id,
        session_id::text                    as event_id,
        course_code,
        started_at                          as start_at,
        round(active_seconds / 60.0, 2)     as duration_minutes
    from {{ ref('fact_material_views') }}
    {% if is_incremental() %}
    where started_at >= {{ incremental_watermark("coalesce(max(start_at), '-infinity'::timestamptz) - " ~ lookback, 'timestamptz', where="source = 'platform'") }}
    {% endif %}
),

happened as (
    select source, student_id, event_id, course_code, start_at, duration_minutes
    from calendar
    -- current_timestamp is the build's transaction start: one cut-off for the whole table.
    where end_at <= current_timestamp
    union all
    select * from platform
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
from happened
-- A session lasts more than nothing and less than a day (multi-day blocks are not study sessions).
where duration_minutes > 0 and duration_minutes < 1440
