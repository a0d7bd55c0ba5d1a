-- Typed, one row per (student, note path), course codes in their canonical form.
with source as (
    select * from {{ source('raw', 'notes') }}
),

ranked as (
    -- The loader merges on _natural_key already; this keeps staging correct even if a raw table is
    -- ever appended to by hand (latest version wins).
    select
        *,
        row_number() over (partition by _natural_key order by _loaded_at desc, modified_at desc) as version_rank
    from source
)

select
    _natural_key                                   as note_key,
    student_id,
    path                                           as note_path,
    title,
    coalesce(note_type, 'note')                    as note_type,
    {{ normalize_course_code('course_code') }}     as course_code,
    course_code                                    as course_code_raw,
    due_date,
    weight_pct::numeric(6, 2)                      as weight_pct,
    status,
    coalesce(source_updated_at, modified_at)       as source_changed_at,
    modified_at,
    coalesce(word_count, 0)::integer               as word_count,
    tags,
    wikilinks,
    dois,
    content_sha256,
    _loaded_at                                     as loaded_at
from ranked
where version_rank = 1
