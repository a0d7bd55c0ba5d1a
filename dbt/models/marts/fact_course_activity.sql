-- Per student and enrolled course: how far along they are. The platform never filled total_files,
-- so it is computed here as the materials the course has, and the status follows from the share
-- completed: none -> not_started, under half -> exploring, under all -> engaged, all -> completed.
with course_files as (
    select course_id, count(*) as total_files
    from {{ ref('stg_platform_materials') }}
    group by course_id
),

completed_files as (
    select user_id, course_id, count(distinct material_id) as files_completed
    from {{ ref('stg_platform_file_viewing_sessions') }}
    where is_complete
    group by user_id, course_id
),

enrolments as (
    select a.*, c.course_code
    from {{ ref('stg_platform_user_course_activities') }} as a
    join {{ ref('stg_platform_courses') }} as c using (course_id)
)

select
    md5(e.user_id::text || ':' || e.course_id::text)             as course_activity_sk,
    e.user_id                                                    as student_id,
    e.course_code,
    coalesce(cf.total_files, 0)                                  as total_files,
    coalesce(done.files_completed, 0)                            as files_completed,
    case
        when coalesce(cf.total_files, 0) = 0 then 0
        else round(coalesce(done.files_completed, 0)::numeric / cf.total_files, 3)
    end                                                          as completion_share,
    case
        when coalesce(done.files_completed, 0) = 0 then 'not_started'
        when done.files_completed >= cf.total_files then 'completed'
        when done.files_completed * 2 < cf.total_files then 'exploring'
        else 'engaged'
    end                                                          as status,
    e.platform_status,
    e.files_completed                                            as platform_files_completed,
    e.updated_at
from enrolments as e
left join course_files as cf using (course_id)
left join completed_files as done on done.user_id = e.user_id and done.course_id = e.course_id
