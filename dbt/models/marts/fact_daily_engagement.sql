-- Student x local day, every day from the student's first day on the platform (or the platform's first
-- recorded session, if later) to yesterday, zeros included: the
-- churn model needs the quiet days as much as the busy ones. Incremental: a run recomputes the last
-- seven days (late sessions, ticked-off tasks) and adds new ones; a full refresh gives the same rows.
-- An incremental run reads only the activity of those days: each source is filtered to them, and the
-- staging SQL ranks only the keys with rows in them (keys_where of latest_per_key), so the run's work grows
-- with the days it recomputes, not with the history.
{#- The days a run recomputes, declared once: the model's SQL and its tests' window (tested_windows.sql) read it. -#}
{% set recomputed_days = 7 %}
{{
    config(
        materialized='incremental',
        unique_key='engagement_sk',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['engagement_sk'], 'unique': true}, {'columns': ['activity_date']}],
        meta={'tested_window': {'through': 'max(activity_date)', 'type': 'date',
                                'rows': 'activity_date >= {through} - ' ~ recomputed_days}},
    )
}}

{% set tz = var("study_timezone") %}
{% set since %}
    {% if is_incremental() %}
        {{ incremental_watermark("coalesce(max(activity_date), '1900-01-01'::date) - " ~ recomputed_days, 'date') }}
    {% else %}
        '1900-01-01'::date
    {% endif %}
{% endset %}

{#- The first local day this run recomputes; none for a full build. -#}
{% set window = since if is_incremental() else none %}
{#- The platform staging relations: the views for a full build; for an incremental run, the same
    staging SQL ranking only the keys with rows in the window. -#}
-- depends_on: {{ ref('stg_platform_file_viewing_sessions') }}, {{ ref('stg_platform_points_transactions') }}
-- depends_on: {{ ref('stg_platform_user_tasks') }}, {{ ref('stg_platform_user_notes') }}
{% if window %}
    {% set sessions = '(' ~ stg_platform_file_viewing_sessions(keys_where=local_day_on_or_after('started_at', tz, window)) ~ ')' %}
    {% set ledger = '(' ~ stg_platform_points_transactions(keys_where=local_day_on_or_after('created_at', tz, window)) ~ ')' %}
    {% set tasks = '(' ~ stg_platform_user_tasks(keys_where=local_day_on_or_after('updated_at', tz, window)) ~ ')' %}
    {% set platform_notes = '(' ~ stg_platform_user_notes(keys_where=local_day_on_or_after('updated_at', tz, window)) ~ ')' %}
{% else %}
    {% set sessions = ref('stg_platform_file_viewing_sessions') %}
    {% set ledger = ref('stg_platform_points_transactions') %}
    {% set tasks = ref('stg_platform_user_tasks') %}
    {% set platform_notes = ref('stg_platform_user_notes') %}
{% endif %}

with platform_start as (
    -- Before the platform recorded any session there is nothing to observe: start the spine there.
    {% if is_incremental() %}
    -- Only greatest(first day, since) matters to a run: when the platform has sessions on or before
    -- `since` that is `since` itself, else the first day of the sessions after it (in the window).
    -- raw holds one row per id (the replication merges on it), so "has rows on or before" is read there.
    select case
        when exists (
            select 1 from {{ source('platform', 'platform_file_viewing_sessions') }}
            where started_at < (({{ since }} + 1)::timestamp at time zone '{{ tz }}')
        ) then {{ since }}
        else (
            select coalesce(min((started_at at time zone '{{ tz }}')::date), '1900-01-01'::date)
            from {{ sessions }} as s
        )
    end as first_day
    {% else %}
    select coalesce(min((started_at at time zone '{{ tz }}')::date), '1900-01-01'::date) as first_day
    from {{ ref('stg_platform_file_viewing_sessions') }}
    {% endif %}
),

students as (
    select u.user_id as student_id, greatest((u.created_at at time zone '{{ tz }}')::date, ps.first_day) as first_day
    from {{ ref('stg_platform_users') }} as u
    cross join platform_start as ps
    where u.role = 'STUDENT'
),

days as (
    select s.student_id, d::date as activity_date
    from students as s
    cross join lateral generate_series(
        greatest(s.first_day, {{ since }}),
        (now() at time zone '{{ tz }}')::date - 1,
        interval '1 day'
    ) as d
),

views as (
    select
        user_id as student_id,
        (started_at at time zone '{{ tz }}')::date as activity_date,
        count(*)                                    as sessions,
        sum(active_seconds) / 60.0                  as active_minutes,
        count(*) filter (where is_complete)         as completions
    from {{ sessions }} as s
    where {{ local_day_on_or_after('started_at', tz, window) }}
    group by 1, 2
),

xp as (
    select user_id as student_id, (created_at at time zone '{{ tz }}')::date as activity_date, sum(amount) as xp
    from {{ ledger }} as l
    where {{ local_day_on_or_after('created_at', tz, window) }}
    group by 1, 2
),

tasks as (
    -- A completed task counts on the day it was ticked off (its last update).
    select user_id as student_id, (updated_at at time zone '{{ tz }}')::date as activity_date, count(*) as tasks_done
    from {{ tasks }} as t
    where completed and {{ local_day_on_or_after('updated_at', tz, window) }}
    group by 1, 2
),

notes as (
    -- Study-source student ids are text (any id in studentops.yaml): the same uuid mapping as the facts.
    select {{ student_uuid('student_id') }} as student_id, (modified_at at time zone '{{ tz }}')::date as activity_date, count(*) as notes_edited
    from {{ ref('stg_notes') }}
    where {{ local_day_on_or_after('modified_at', tz, window) }}
    group by 1, 2
    union all
    select user_id, (updated_at at time zone '{{ tz }}')::date, count(*)
    from {{ platform_notes }} as n
    where {{ local_day_on_or_after('updated_at', tz, window) }}
    group by 1, 2
),

notes_per_day as (
    select student_id, activity_date, sum(notes_edited) as notes_edited
    from notes
    group by 1, 2
),

calendar_study as (
    -- Scheduled study time from the student's own calendars (lectures and study blocks of a course).
    select student_id, start_local_date as activity_date, sum(duration_minutes) as calendar_study_minutes
    from {{ ref('fact_study_sessions') }}
    where source in ('ical', 'gcal')
    {% if is_incremental() %}and start_local_date >= {{ since }}{% endif %}
    group by 1, 2
)

select
    md5(d.student_id::text || ':' || d.activity_date::text)        as engagement_sk,
    d.student_id,
    d.activity_date,
    coalesce(v.sessions, 0)                                        as sessions,
    round(coalesce(v.active_minutes, 0), 2)                        as active_minutes,
    coalesce(v.completions, 0)                                     as completions,
    coalesce(x.xp, 0)                                              as xp,
    coalesce(t.tasks_done, 0)                                      as tasks_done,
    coalesce(n.notes_edited, 0)                                    as notes_edited,
    coalesce(cs.calendar_study_minutes, 0)                         as calendar_study_minutes
from days as d
left join views as v using (student_id, activity_date)
left join xp as x using (student_id, activity_date)
left join tasks as t using (student_id, activity_date)
left join notes_per_day as n on n.student_id = d.student_id and n.activity_date = d.activity_date
left join calendar_study as cs on cs.student_id = d.student_id and cs.activity_date = d.activity_date
