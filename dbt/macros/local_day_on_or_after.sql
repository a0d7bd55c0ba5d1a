{#- `ts` (a timestamptz) falls on or after the local day `since` (a SQL date expression) in `tz`;
    `true` when since is none (a full build reads every day). Written as a range on `ts` itself, from
    the instant the local day starts, rather than as `(ts at time zone tz)::date >= since`: the same
    rows, but a b-tree index on `ts` (the replicas' cursor indexes) can serve it, so a window of a
    few days reads those days, not the history. -#}
{% macro local_day_on_or_after(ts, tz, since) -%}
    {%- if since -%}{{ ts }} >= (({{ since }})::timestamp at time zone '{{ tz }}'){%- else -%}true{%- endif -%}
{%- endmacro %}
