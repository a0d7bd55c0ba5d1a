{#- `ts`'s local day (in `tz`) is on or after `since` (a SQL date expression); `true` when since is none
    (a full build reads every day). -#}
{% macro local_day_on_or_after(ts, tz, since) -%}
    {%- if since -%}({{ ts }} at time zone '{{ tz }}')::date >= {{ since }}{%- else -%}true{%- endif -%}
{%- endmacro %}
