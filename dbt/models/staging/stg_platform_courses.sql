select
    id::uuid                                as course_id,
    {{ normalize_course_code('code') }}     as course_code,
    code                                    as course_code_raw,
    name                                    as course_name,
    major_id::uuid                          as major_id,
    year_id::integer                        as study_year,
    semester::integer                       as semester,
    created_at,
    updated_at
from ({{ latest_per_key(source('platform', 'platform_courses'), 'id', 'updated_at desc') }}) s
