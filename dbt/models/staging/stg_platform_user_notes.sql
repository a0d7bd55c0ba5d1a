select
    id::uuid            as user_note_id,
    user_id::uuid       as user_id,
    course_id::uuid     as course_id,
    material_id::uuid   as material_id,
    content,
    created_at,
    updated_at
from ({{ latest_per_key(source('platform', 'platform_user_notes'), 'id', 'updated_at desc') }}) s
