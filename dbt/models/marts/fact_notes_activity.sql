-- One row per note: what kind, which course, how long, and on which local day it was last edited.
select
    md5(n.note_key)                                                            as note_sk,
    {{ student_uuid('n.student_id') }}                                          as student_id,
    n.note_path::text                                                          as note_path,
    n.note_type,
    n.course_code,
    c.course_sk,
    n.word_count,
    n.modified_at,
    (n.modified_at at time zone '{{ var("study_timezone") }}')::date          as modified_local_date
from {{ ref('stg_notes') }} as n
left join {{ ref('dim_courses') }} as c
    on c.course_code = n.course_code
