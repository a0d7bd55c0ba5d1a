-- One row per viewing session with its completion. Incremental: a run re-reads the last two days of
-- sessions (a session's active seconds keep growing while it is open) and merges them on session_id;
-- `dbt build --full-refresh` rebuilds the same rows from scratch. Only the keys of those sessions
-- are ranked in staging (keys_where of latest_per_key): the run's work grows with the new sessions, not with history.
{#- The window a run rewrites, declared once: the model's SQL and its tests' window (tested_windows.sql) read it. -#}
{% set rewrites = "started_at >= {through} - interval '2 days'" %}
{#- derived_keys: the surrogate key is the md5 of the unique key, which has a unique index. -#}
{{
    config(
        materialized='incremental',
        unique_key='session_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['session_id'], 'unique': true},
            {'columns': ['student_id', 'started_local_date']},
            {'columns': ['started_at']},
        ],
        meta={'tested_window': {'through': 'max(started_at)', 'type': 'timestamptz', 'rows': rewrites,
                                'derived_keys': ['session_sk']}},
    )
}}

select
    md5(v.session_id::text)                                               as session_sk,
    v.session_id,
    v.user_id                                                             as student_id,
    v.material_id,
    c.course_code,
    v.started_at,
    (v.started_at at time zone '{{ var("study_timezone") }}')::date      as started_local_date,
    extract(hour from v.started_at at time zone '{{ var("study_timezone") }}')::integer as started_local_hour,
    v.active_seconds,
    v.required_active_seconds,
    v.completion_score,
    v.is_complete
-- depends_on: {{ ref('stg_platform_file_viewing_sessions') }}
{% if is_incremental() %}
{% set through = incremental_watermark("coalesce(max(started_at), '-infinity'::timestamptz)", 'timestamptz') %}
{% set window = rewrites | replace('{through}', through) %}
from ({{ stg_platform_file_viewing_sessions(keys_where=window) }}) as v
left join {{ ref('stg_platform_courses') }} as c using (course_id)
where {{ window }}  -- started_at: only the sessions have one
{% else %}
from {{ ref('stg_platform_file_viewing_sessions') }} as v
left join {{ ref('stg_platform_courses') }} as c using (course_id)
{% endif %}
