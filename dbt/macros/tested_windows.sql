{#- Data tests of the large incremental facts and of the staging views over the large platform
    replicas check what changed since they last passed, not the whole table every time. Each test
    keeps its own mark: a test added or changed (its arguments are in its name) starts from the whole
    table, and a failing test records nothing, so the rows it failed on are tested again until fixed.

    Facts (meta.tested_window). An incremental fact rewrites only a window at its end (seven days of
    fact_daily_engagement, two of fact_material_views...), and rows before it never change. Such a
    model declares the window in its config:
        through: an aggregate over the model, e.g. max(started_at): how far the rows go;
        type:    its SQL type;
        rows:    a condition with {through} in it, e.g. "started_at >= {through} - interval '2 days'":
                 the rows a run can rewrite when the model reached {through} before it.
    When a test of such a model passes, the on-run-end hook records the model's `through` in
    meta.tested_through, with the table's file (pg_relation_filenode). The test then checks only the
    rows `rows` selects with that value: everything written since it last passed, since the model's
    `through` never goes back (its runs delete and reinsert rows by key, they never drop its newest).
    Only tests that look at each row on its own narrow (test_reads_rows_by_key): a relationships
    test reads the whole table. The whole table is tested when it is not in the file the mark was made on (a full refresh
    builds a new table; TRUNCATE, VACUUM FULL and CLUSTER rewrite it). Keys stay unique across the
    whole table all the same: each of these models has a unique index on its key.

    Staging views (meta.tested_versions: the view's key and the macro of its SQL). A view ranks the
    versions of each key in a raw replica. Every row version Postgres writes carries the id of the
    transaction that wrote it (the system column xmin: a load's insert, a merge's reinsert of a
    changed key, a row appended by hand). The on-run-start hook notes the oldest transaction still
    running (pg_snapshot_xmin): everything older is committed and seen by every test of the
    invocation. When a test passes, that mark is recorded for it in meta.tested_versions, with the
    view's definition; the test then runs the view's SQL ranking only the keys that have a row
    version written at or after the mark (latest_per_key's keys_where). A restored dump is all new; a
    mark over a billion transactions old tests the whole view. Only not_null and accepted_values
    narrow this way. unique reads the whole view even on its key: the view ranks one row per raw id,
    so what it can catch is two raw ids that cast to one uuid ('ABC...' and 'abc...'), an old row and
    a new one that ranking the new keys alone would not compare. Relationships read it whole too.

    Everything is tested whole under --full-refresh and with --vars '{test_whole_tables: true}', and
    `dbt build --empty` records nothing. -#}

{%- macro tested_windows_ddl() -%}
create schema if not exists meta;
create table if not exists meta.tested_through (
    test_id           text        primary key,
    relation_name     text        not null,
    relation_filenode oid         not null,
    validated_through text        not null,
    validated_at      timestamptz not null default now()
);
comment on table meta.tested_through is
    'How far the rows of an incremental model went when each of its dbt tests last passed: later runs of the test check the rows from there on.';
create table if not exists meta.tested_versions (
    test_id         text        primary key,
    xmin_mark       xid8        not null,
    view_definition text        not null,
    validated_at    timestamptz not null default now()
);
comment on table meta.tested_versions is
    'Per dbt test of a staging view: every row version written by a transaction older than xmin_mark has passed it (with the md5 of the view definition it ran); later runs test the keys with newer versions.';
create table if not exists meta.versions_under_test (
    invocation_id text        primary key,
    xmin_mark     xid8        not null,
    noted_at      timestamptz not null default now()
);
comment on table meta.versions_under_test is
    'The oldest transaction running when a dbt invocation started: what its passing staging tests record.';
delete from meta.versions_under_test where noted_at < now() - interval '1 day';
insert into meta.versions_under_test (invocation_id, xmin_mark)
values ('{{ invocation_id }}', pg_snapshot_xmin(pg_current_snapshot()))
on conflict (invocation_id) do nothing;
{%- endmacro -%}

{%- macro tested_relation_name(node) -%}
    {{ return(node.schema ~ '.' ~ (node.alias or node.name)) }}
{%- endmacro -%}

{%- macro testing_whole_tables() -%}
    {{ return(not execute or flags.FULL_REFRESH or flags.EMPTY or var('test_whole_tables', false)) }}
{%- endmacro -%}

{#- The tested window of `node` (a model with meta.tested_window) for `test` as a SQL condition;
    none when its whole table is to be tested. -#}
{%- macro tested_window_condition(node, test) -%}
    {%- set window = node.config.meta.get('tested_window') -%}
    {%- if not window or testing_whole_tables() or not test_reads_rows_by_key(test, tested_window_keys(node)) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set name = tested_relation_name(node) -%}
    {%- set recorded = run_query(
        "select v.validated_through from meta.tested_through v "
        ~ "where v.test_id = '" ~ (test.unique_id | replace("'", "''")) ~ "' "
        ~ "and v.relation_filenode = pg_relation_filenode(to_regclass('" ~ name ~ "'))"
    ) -%}
    {%- if recorded.rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set through = "'" ~ (recorded.columns[0].values()[0] | replace("'", "''")) ~ "'::" ~ window['type'] -%}
    {{ return('(' ~ window['rows'] | replace('{through}', through) ~ ')') }}
{%- endmacro -%}

{#- Whether `test` checks each row on its own, so that testing the rows that changed covers it:
    not_null, accepted_values, and unique on a column unique across the whole table by construction
    (`keys`). A relationships test is not: a parent row that goes away orphans old rows too. -#}
{%- macro test_reads_rows_by_key(test, keys) -%}
    {%- set kind = (test.get('test_metadata') or {}).get('name') -%}
    {{ return(kind in ('not_null', 'accepted_values') or (kind == 'unique' and test.get('column_name') in keys)) }}
{%- endmacro -%}

{#- The columns of a windowed fact that are unique across the whole table whatever its tests read:
    those with a unique index of their own, and the surrogate keys hashed from one (derived_keys). -#}
{%- macro tested_window_keys(node) -%}
    {%- set keys = node.config.meta['tested_window'].get('derived_keys', []) | list -%}
    {%- for index in node.config.get('indexes') or [] if index.get('unique') and index['columns'] | length == 1 -%}
        {%- do keys.append(index['columns'][0]) -%}
    {%- endfor -%}
    {{ return(keys) }}
{%- endmacro -%}

{#- The SQL of a staging view (a model with meta.tested_versions) ranking only the keys with a row
    version written since `test` last passed; none when the whole view is to be tested. A mark over a
    billion transactions old (xid wraparound is at two billion) tests the whole view. -#}
{%- macro tested_versions_sql(node, test) -%}
    {%- set spec = node.config.meta.get('tested_versions') -%}
    {%- if not spec or testing_whole_tables() or not test_reads_rows_by_key(test, []) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set recorded = run_query(
        "select (t.xmin_mark::text::numeric % 4294967296)::bigint from meta.tested_versions t "
        ~ "where t.test_id = '" ~ (test.unique_id | replace("'", "''")) ~ "' "
        ~ "and t.view_definition = md5(pg_get_viewdef(to_regclass('" ~ tested_relation_name(node) ~ "'))) "
        ~ "and pg_snapshot_xmin(pg_current_snapshot())::text::numeric - t.xmin_mark::text::numeric < 1000000000"
    ) -%}
    {%- if recorded.rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {#- age() is 32-bit: a row over 2^31 transactions old (frozen long ago) has a negative age. -#}
    {%- set keys_where = "age(xmin) between 0 and age('" ~ recorded.columns[0].values()[0] ~ "'::xid)" -%}
    {{ return(context[spec['sql']](keys_where=keys_where)) }}
{%- endmacro -%}

{#- dbt's own macro (where_subquery.sql) with the tested window added. The window narrows only the
    relation the test is attached to (a relationships test reads its parent whole). -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- set node = graph.nodes.get(attached) if attached else none -%}
    {%- set source_sql = none -%}
    {%- if node and relation.identifier == (node.alias or node.name) and relation.schema == node.schema -%}
        {%- set window = tested_window_condition(node, model) -%}
        {%- if window -%}{%- do conditions.append(window) -%}{%- endif -%}
        {%- set source_sql = tested_versions_sql(node, model) -%}
    {%- endif -%}
    {%- if source_sql -%}
        {%- set filtered -%}
            (select * from ({{ source_sql }}) tested_keys{% if conditions %} where {{ conditions | join(' and ') }}{% endif %}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- elif conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}

{#- on-run-end: each passing test of a windowed model records how far the model went, each passing
    test of a staging view the transaction mark noted when the invocation started; then the note goes. -#}
{% macro record_tested_windows(results) -%}
    {%- set statements = [] -%}
    {%- for result in results if result.node.resource_type == 'test' and (result.status | string) == 'pass' -%}
        {%- set test = graph.nodes.get(result.node.unique_id) or {} -%}
        {%- set node = graph.nodes.get(test.get('attached_node')) if test.get('attached_node') else none -%}
        {%- if flags.EMPTY -%}
            {#- dbt build --empty: the tests read no rows, so they say nothing about the data. -#}
        {%- elif node and node.config.meta.get('tested_window') and test_reads_rows_by_key(test, tested_window_keys(node)) -%}
            {%- set name = tested_relation_name(node) -%}
            {%- set through = node.config.meta['tested_window']['through'] -%}
            {%- do statements.append(
                "insert into meta.tested_through (test_id, relation_name, relation_filenode, validated_through) "
                ~ "select '" ~ (test.unique_id | replace("'", "''")) ~ "', '" ~ name ~ "', pg_relation_filenode(to_regclass('" ~ name ~ "')), (" ~ through ~ ")::text "
                ~ "from " ~ name ~ " having (" ~ through ~ ") is not null "
                ~ "and pg_relation_filenode(to_regclass('" ~ name ~ "')) is not null "
                ~ "on conflict (test_id) do update set relation_name = excluded.relation_name, "
                ~ "relation_filenode = excluded.relation_filenode, "
                ~ "validated_through = excluded.validated_through, validated_at = excluded.validated_at"
            ) -%}
        {%- elif node and node.config.meta.get('tested_versions') and test_reads_rows_by_key(test, []) -%}
            {%- do statements.append(
                "insert into meta.tested_versions (test_id, xmin_mark, view_definition) "
                ~ "select '" ~ (test.unique_id | replace("'", "''")) ~ "', n.xmin_mark, md5(pg_get_viewdef(to_regclass('" ~ tested_relation_name(node) ~ "'))) "
                ~ "from meta.versions_under_test n where n.invocation_id = '" ~ invocation_id ~ "' "
                ~ "and pg_get_viewdef(to_regclass('" ~ tested_relation_name(node) ~ "')) is not null "
                ~ "on conflict (test_id) do update set xmin_mark = excluded.xmin_mark, "
                ~ "view_definition = excluded.view_definition, validated_at = excluded.validated_at"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do statements.append("delete from meta.versions_under_test where invocation_id = '" ~ invocation_id ~ "'") -%}
    {{ statements | join(';\n') }}
{%- endmacro %}
