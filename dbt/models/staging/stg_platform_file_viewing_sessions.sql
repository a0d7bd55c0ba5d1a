-- The SQL is the macro stg_platform_file_viewing_sessions (macros/platform_staging.sql): the incremental marts
-- and this view's tests (meta.tested_versions, macros/tested_windows.sql) run it with keys_where to rank
-- only the keys they need.
{{ config(meta={'tested_versions': {'key': 'session_id', 'sql': 'stg_platform_file_viewing_sessions'}}) }}
{{ stg_platform_file_viewing_sessions() }}
