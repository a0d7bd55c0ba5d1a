{#- `expression` (an aggregate over this model's rows, e.g. `max(activity_date) - 7`) evaluated when
    the model runs, as a SQL literal of `type`. Incremental windows start there. A literal, unlike the
    same expression as a subquery, is known when Postgres plans the query: it sees how few rows the
    window holds and reads them through the cursor indexes instead of scanning the history.
    `where` narrows the rows the expression reads (an index on them makes a max() one lookup).
    While dbt parses (no database), it is a typed null. -#}
{% macro incremental_watermark(expression, type, where='true') -%}
    {%- if execute -%}
        {%- set value = run_query('select (' ~ expression ~ ')::text from ' ~ this ~ ' where ' ~ where).columns[0].values()[0] -%}
        '{{ value }}'::{{ type }}
    {%- else -%}
        null::{{ type }}
    {%- endif -%}
{%- endmacro %}
