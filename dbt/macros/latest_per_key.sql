{#- The newest row per natural key. The loaders merge on the key already; staging still guards
    against a raw table someone appended to by hand, so every stg_ model is unique on its key. -#}
{% macro latest_per_key(relation, key, order_by) -%}
    select * from (
        select src.*, row_number() over (partition by {{ key }} order by {{ order_by }}) as _version_rank
        from {{ relation }} as src
    ) ranked
    where _version_rank = 1
{%- endmacro %}
