-- One row per course code, from the platform's catalogue and from the codes students write in
-- their notes (a course a student follows outside the platform is still a course).
with platform_courses as (
    select
        c.course_code,
        c.course_id,
        c.course_name,
        c.study_year,
        c.semester,
        m.major_slug,
        m.major_name
    from {{ ref('stg_platform_courses') }} as c
    left join {{ ref('stg_platform_majors') }} as m using (major_id)
),

note_courses as (
    select
        course_code,
        count(*)                         as note_count,
        count(distinct student_id)       as student_count,
        min(modified_at)                 as first_note_at,
        max(modified_at)                 as last_note_at
    from {{ ref('stg_notes') }}
    where course_code is not null
    group by course_code
),

codes as (
    select course_code from platform_courses
    union
    select course_code from note_courses
)

select
    md5(codes.course_code)                       as course_sk,
    codes.course_code,
    p.course_id                                  as platform_course_id,
    p.course_name,
    p.major_slug,
    p.major_name,
    p.study_year,
    p.semester,
    p.course_id is not null                      as in_platform,
    coalesce(n.note_count, 0)                    as note_count,
    coalesce(n.student_count, 0)                 as student_count,
    n.first_note_at,
    n.last_note_at
from codes
left join platform_courses as p using (course_code)
left join note_courses as n using (course_code)
