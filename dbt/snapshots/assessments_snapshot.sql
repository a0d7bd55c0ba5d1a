{#- Every version of every assessment note (type: assessment). The timestamp strategy takes
    `source_changed_at` (the note's `updated` frontmatter, else the file's modification time) as the
    version's dbt_valid_from, so validity follows when the student changed the note, not when this
    snapshot happened to run; `recorded_at` keeps the run time. A deleted note closes its last version. -#}
{% snapshot assessments_snapshot %}
{{
    config(
        schema='snapshots',
        unique_key='note_key',
        strategy='timestamp',
        updated_at='source_changed_at',
        hard_deletes='invalidate',
    )
}}
select
    note_key,
    student_id,
    note_path,
    course_code,
    due_date,
    weight_pct,
    status,
    source_changed_at,
    now() as recorded_at
from {{ ref('stg_notes') }}
where note_type = 'assessment'
{% endsnapshot %}
