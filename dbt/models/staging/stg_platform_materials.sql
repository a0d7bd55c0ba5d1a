select
    id::uuid                as material_id,
    title,
    academic_year,
    material_year::integer  as material_year,
    course_id::uuid         as course_id,
    lecturer_id::uuid       as lecturer_id,
    type_id::integer        as material_type_id,
    uploader_id::uuid       as uploader_id,
    notes,
    file_url,
    content,
    created_at,
    updated_at
from ({{ latest_per_key(source('platform', 'platform_materials'), 'id', 'updated_at desc') }}) s
