{#- Models land in exactly the schema they name (staging, marts, snapshots), not "<target>_<schema>":
    the schemas are the warehouse's public contract (DESIGN.md), the same in every environment. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
