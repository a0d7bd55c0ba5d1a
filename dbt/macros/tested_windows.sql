{#- Data tests of the large incremental facts check the rows a run can have rewritten, not the whole
    table every time.

    An incremental fact rewrites only a window at its end (seven days of fact_daily_engagement, two
    of fact_material_views...), and rows before it never change. Such a model declares the window in
    its config, meta.tested_window:
        through: an aggregate over the model, e.g. max(started_at): how far the rows go;
        type:    its SQL type;
        rows:    a condition with {through} in it, e.g. "started_at >= {through} - interval '2 days'":
                 the rows a run can rewrite when the model reached {through} before it.
    When every test of such a model passes, the on-run-end hook records `through` in
    meta.validated_through, with the table's file (pg_relation_filenode). Its tests then check only the rows `rows` selects
    with that recorded value: everything written since the last passing run, since the model's
    `through` never goes back (its runs delete and reinsert rows by key, they never drop its newest).
    A failing test records nothing, so the rows it failed on are tested again until they are fixed.

    The whole table is tested when there is nothing recorded yet, when the table is not in the file
    the record was made on (a full refresh builds a new table; TRUNCATE, VACUUM FULL and CLUSTER
    rewrite it), under --full-refresh, and with
    --vars '{test_whole_tables: true}'. Keys stay unique across the whole table all the same: each of
    these models has a unique index on its key. -#}

{%- macro validated_through_ddl() -%}
create schema if not exists meta;
create table if not exists meta.validated_through (
    relation_name     text        primary key,
    relation_filenode oid         not null,
    validated_through text        not null,
    validated_at      timestamptz not null default now()
);
comment on table meta.validated_through is
    'How far the rows of an incremental model went when its dbt tests last all passed: later runs test the rows from there on.'
{%- endmacro -%}

{#- The tested window of `node` (a model with meta.tested_window) as a SQL condition; none when its
    whole table is to be tested. -#}
{%- macro tested_window_condition(node) -%}
    {%- set window = node.config.meta.get('tested_window') -%}
    {%- if not window or not execute or flags.FULL_REFRESH or var('test_whole_tables', false) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set name = node.schema ~ '.' ~ (node.alias or node.name) -%}
    {%- set recorded = run_query(
        "select v.validated_through from meta.validated_through v "
        ~ "where v.relation_name = '" ~ name ~ "' "
        ~ "and v.relation_filenode = pg_relation_filenode(to_regclass('" ~ name ~ "'))"
    ) -%}
    {%- if recorded.rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set through = "'" ~ recorded.columns[0].values()[0] ~ "'::" ~ window['type'] -%}
    {{ return('(' ~ window['rows'] | replace('{through}', through) ~ ')') }}
{%- endmacro -%}

{#- dbt's own macro (where_subquery.sql) with the tested window added to a test's `where`. The window
    narrows only the relation the test is attached to (a relationships test reads its parent whole). -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- set node = graph.nodes.get(attached) if attached else none -%}
    {%- if node and relation.identifier == (node.alias or node.name) and relation.schema == node.schema -%}
        {%- set window = tested_window_condition(node) -%}
        {%- if window -%}{%- do conditions.append(window) -%}{%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}

{#- on-run-end: record how far each windowed model is validated when all of its tests ran in this
    invocation and passed. -#}
{% macro record_validated_through(results) -%}
    {%- set statuses = {} -%}
    {%- for result in results if result.node.resource_type == 'test' -%}
        {%- do statuses.update({result.node.unique_id: result.status | string}) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.meta.get('tested_window') -%}
        {%- set tests = [] -%}
        {%- for test in graph.nodes.values() if test.resource_type == 'test' and test.get('attached_node') == node.unique_id -%}
            {%- do tests.append(statuses.get(test.unique_id)) -%}
        {%- endfor -%}
        {%- if tests and tests | reject('equalto', 'pass') | list | length == 0 -%}
            {%- set name = node.schema ~ '.' ~ (node.alias or node.name) -%}
            {%- do statements.append(
                "insert into meta.validated_through (relation_name, relation_filenode, validated_through) "
                ~ "select '" ~ name ~ "', pg_relation_filenode(to_regclass('" ~ name ~ "')), (" ~ node.config.meta['tested_window']['through'] ~ ")::text "
                ~ "from " ~ name ~ " having (" ~ node.config.meta['tested_window']['through'] ~ ") is not null "
                ~ "on conflict (relation_name) do update set relation_filenode = excluded.relation_filenode, "
                ~ "validated_through = excluded.validated_through, validated_at = excluded.validated_at"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ statements | join(';\n') if statements else 'select 1' }}
{%- endmacro %}
