select
    id::uuid            as file_request_id,
    user_id::uuid       as user_id,
    course_id::uuid     as course_id,
    title,
    type_id::integer    as material_type_id,
    lower(status)       as status,
    admin_note,
    material_id::uuid   as material_id,
    created_at,
    updated_at
from ({{ latest_per_key(source('platform', 'platform_file_requests'), 'id', 'updated_at desc') }}) s
