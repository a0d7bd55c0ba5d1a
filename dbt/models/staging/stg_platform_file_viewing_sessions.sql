select
    id::uuid                                as session_id,
    user_id::uuid                           as user_id,
    file_id::uuid                           as material_id,
    course_id::uuid                         as course_id,
    started_at,
    active_seconds::integer                 as active_seconds,
    required_active_seconds::integer        as required_active_seconds,
    completion_score::numeric(4, 3)         as completion_score,
    is_complete
from ({{ latest_per_key(source('platform', 'platform_file_viewing_sessions'), 'id', 'active_seconds desc') }}) s
