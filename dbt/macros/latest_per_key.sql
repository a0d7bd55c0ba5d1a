{#- The newest row per natural key. The loaders merge on the key already; staging still guards
    against a raw table someone appended to by hand, so every stg_ model is unique on its key.
    keys_where (a condition on the raw table's columns): rank only the versions of the keys that have
    a row matching it. An incremental model uses it to rank the keys its window can touch instead of
    the whole history; Postgres pushes no other filter below the window function. The keys are found
    with a hash semi-join (one scan of the raw table, no sort), the ranking sorts only their rows. -#}
{% macro latest_per_key(relation, key, order_by, keys_where=none) -%}
    select * from (
        select src.*, row_number() over (partition by {{ key }} order by {{ order_by }}) as _version_rank
        from {{ relation }} as src
        {%- if keys_where %}
        where ({{ key }}) in (select {{ key }} from {{ relation }} where {{ keys_where }})
        {%- endif %}
    ) ranked
    where _version_rank = 1
{%- endmacro %}
