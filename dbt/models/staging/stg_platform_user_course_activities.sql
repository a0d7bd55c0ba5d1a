select
    user_id::uuid               as user_id,
    course_id::uuid             as course_id,
    lower(status)               as platform_status,
    files_completed::integer    as files_completed,
    total_files::integer        as platform_total_files,
    updated_at
from ({{ latest_per_key(source('platform', 'platform_user_course_activities'), 'user_id, course_id', 'updated_at desc') }}) s
