{#- One type per key across the gold layer: student_id is uuid everywhere (platform users.id is a uuid).
    Study sources carry the id written in studentops.yaml as text: a uuid there (a platform student, the
    usual case) is that uuid; any other id ("ada") maps to a stable uuid derived from it, so configured
    students that are not platform users still get one key of the same type. -#}
{% macro student_uuid(column) -%}
    (case
        when {{ column }} ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then ({{ column }})::uuid
        else md5('studentops-student:' || {{ column }})::uuid
    end)
{%- endmacro %}
