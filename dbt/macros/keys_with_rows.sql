{#- `column = any(<keys of relation's rows that match predicate>)`: put next to an incremental model's
    filter on a staging view built with latest_per_key. Postgres pushes a condition on the partition
    key (and only such a condition) below the view's window function, so the ranking then runs over
    the versions of the keys the run can touch, not over the whole raw table; a filter on any other
    column is applied after ranking every row in history. Exact: a row that passes the model's own
    filter comes from a raw row of its key that passes `predicate` (the same condition on raw columns),
    so its key is in the list.
    Example: {{ keys_with_rows('p.points_transaction_id', source('platform', 'platform_points_transactions'),
    'id::uuid', "created_at >= now() - interval '1 day'") }} -#}
{% macro keys_with_rows(column, relation, key, predicate) -%}
    {{ column }} = any(array(select {{ key }} from {{ relation }} where {{ predicate }}))
{%- endmacro %}
