-- The SQL is the macro stg_platform_points_transactions (macros/platform_staging.sql): the incremental marts
-- and this view's tests (meta.tested_versions, macros/tested_windows.sql) run it with keys_where to rank
-- only the keys they need.
{{ config(meta={'tested_versions': {'key': 'points_transaction_id', 'sql': 'stg_platform_points_transactions'}}) }}
{{ stg_platform_points_transactions() }}
