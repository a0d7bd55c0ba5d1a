{#- Staging SQL of the large platform tables. Each stg_ view is one of these macros without
    arguments; an incremental mart calls it with keys_where (latest_per_key) so its run ranks only the
    keys with rows in its window, not the history, and so do the views' own tests
    (meta.tested_loads, tested_windows.sql): they rank the keys of rows loaded since they last passed. -#}

{% macro stg_platform_file_viewing_sessions(keys_where=none) -%}
select
    id::uuid                                as session_id,
    user_id::uuid                           as user_id,
    file_id::uuid                           as material_id,
    course_id::uuid                         as course_id,
    started_at,
    active_seconds::integer                 as active_seconds,
    required_active_seconds::integer        as required_active_seconds,
    completion_score::numeric(4, 3)         as completion_score,
    is_complete
from ({{ latest_per_key(source('platform', 'platform_file_viewing_sessions'), 'id', 'active_seconds desc', keys_where) }}) s
{%- endmacro %}

{% macro stg_platform_points_transactions(keys_where=none) -%}
select
    id::uuid            as points_transaction_id,
    user_id::uuid       as user_id,
    amount::integer     as amount,
    action,
    reason,
    request_id::uuid    as file_request_id,
    source_id,
    created_at
from ({{ latest_per_key(source('platform', 'platform_points_transactions'), 'id', 'created_at', keys_where) }}) s
{%- endmacro %}

{% macro stg_platform_user_tasks(keys_where=none) -%}
select
    id::uuid                as task_id,
    user_id::uuid           as user_id,
    title,
    "date"::date            as task_date,
    start_hour::integer     as start_hour,
    duration::integer       as duration_minutes,
    lower(priority)         as priority,
    completed,
    created_at,
    updated_at
from ({{ latest_per_key(source('platform', 'platform_user_tasks'), 'id', 'updated_at desc', keys_where) }}) s
{%- endmacro %}

{% macro stg_platform_user_notes(keys_where=none) -%}
select
    id::uuid            as user_note_id,
    user_id::uuid       as user_id,
    course_id::uuid     as course_id,
    material_id::uuid   as material_id,
    content,
    created_at,
    updated_at
from ({{ latest_per_key(source('platform', 'platform_user_notes'), 'id', 'updated_at desc', keys_where) }}) s
{%- endmacro %}

{% macro stg_platform_audit_logs(keys_where=none) -%}
select
    id::uuid            as audit_log_id,
    actor_id::uuid      as actor_id,
    action,
    entity,
    entity_id::uuid     as entity_id,
    details::jsonb      as details,
    created_at
from ({{ latest_per_key(source('platform', 'platform_audit_logs'), 'id', 'created_at', keys_where) }}) s
{%- endmacro %}
