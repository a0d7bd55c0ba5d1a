-- One row per course code seen in the students' notes. Later sources (the platform's own course
-- catalogue, calendars) extend this dimension; course_code stays the join key of every fact.
with note_courses as (
    select
        course_code,
        count(*)                         as note_count,
        count(distinct student_id)       as student_count,
        min(modified_at)                 as first_note_at,
        max(modified_at)                 as last_note_at
    from {{ ref('stg_notes') }}
    where course_code is not null
    group by course_code
)

select
    md5(course_code)                     as course_sk,
    course_code,
    note_count,
    student_count,
    first_note_at,
    last_note_at
from note_courses
