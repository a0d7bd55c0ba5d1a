-- The XP ledger as a fact: one row per award. The ledger is append-only, so a run only inserts
-- awards newer than the latest one it has (with an hour's overlap for late commits; the unique
-- key keeps that overlap from duplicating anything). Only the keys of those awards are ranked in
-- staging (keys_where of latest_per_key): the run's work grows with the new awards, not with the ledger.
{#- The window a run rewrites (in the raw ledger's created_at), declared once: the model's SQL and its
    tests' window (tested_windows.sql, in the fact's awarded_at) read it. -#}
{% set lookback = "interval '1 hour'" %}
{#- derived_keys: the surrogate key is the md5 of the unique key, which has a unique index. -#}
{{
    config(
        materialized='incremental',
        unique_key='points_transaction_id',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['points_transaction_id'], 'unique': true},
            {'columns': ['student_id', 'awarded_local_date']},
            {'columns': ['awarded_at']},
        ],
        meta={'tested_window': {'through': 'max(awarded_at)', 'type': 'timestamptz',
                                'rows': 'awarded_at >= {through} - ' ~ lookback,
                                'derived_keys': ['xp_sk']}},
    )
}}

select
    md5(p.points_transaction_id::text)                                   as xp_sk,
    p.points_transaction_id,
    p.user_id                                                            as student_id,
    p.amount                                                             as xp,
    p.action,
    p.reason,
    p.file_request_id,
    p.source_id::text                                                    as source_id,  -- text, like every other source_id of the gold layer
    p.created_at                                                         as awarded_at,
    (p.created_at at time zone '{{ var("study_timezone") }}')::date     as awarded_local_date
-- depends_on: {{ ref('stg_platform_points_transactions') }}
{% if is_incremental() %}
{% set since = incremental_watermark("coalesce(max(awarded_at), '-infinity'::timestamptz) - " ~ lookback, 'timestamptz') %}
from ({{ stg_platform_points_transactions(keys_where='created_at >= ' ~ since) }}) as p
where p.created_at >= {{ since }}
{% else %}
from {{ ref('stg_platform_points_transactions') }} as p
{% endif %}
