-- One row per platform student, with their major and whether StudentOps also reads their study
-- sources (notes vault today; calendars and references join the same student_id). No personal data:
-- e-mail and name are in private.student_contacts, which the BI role cannot read.
with students as (
    select * from {{ ref('stg_platform_users') }} where role = 'STUDENT'
),

study_sources as (
    select {{ student_uuid('student_id') }} as student_id, count(*) as note_count, max(modified_at) as last_note_at
    from {{ ref('stg_notes') }}
    group by 1
)

select
    md5(s.user_id::text)                 as student_sk,
    s.user_id                            as student_id,
    m.major_slug,
    m.major_name,
    s.total_points,
    s.created_at,
    (s.created_at at time zone '{{ var("study_timezone") }}')::date as joined_local_date,
    ss.student_id is not null            as has_study_sources,
    coalesce(ss.note_count, 0)           as note_count,
    ss.last_note_at
from students as s
left join {{ ref('stg_platform_majors') }} as m using (major_id)
left join study_sources as ss on ss.student_id = s.user_id
