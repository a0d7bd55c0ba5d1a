select
    id::uuid        as lecturer_id,
    name            as lecturer_name
from ({{ latest_per_key(source('platform', 'platform_lecturers'), 'id', 'id') }}) s
