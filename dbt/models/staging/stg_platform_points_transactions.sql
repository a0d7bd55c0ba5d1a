-- The SQL is the macro stg_platform_points_transactions (macros/platform_staging.sql): the incremental marts
-- run it with keys_where to rank only the keys their window touches.
{{ stg_platform_points_transactions() }}
