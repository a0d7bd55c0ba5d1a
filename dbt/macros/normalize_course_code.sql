{#- One spelling per course: 'cs-101', 'Cs 101' and 'CS101' all become 'CS101'. Platform course codes
    are upper-case letters followed by digits; notes write them by hand. -#}
{% macro normalize_course_code(expr) -%}
    nullif(upper(regexp_replace({{ expr }}, '[^A-Za-z0-9]', '', 'g')), '')
{%- endmacro %}
