select
    id::uuid        as major_id,
    name            as major_name,
    slug            as major_slug
from ({{ latest_per_key(source('platform', 'platform_majors'), 'id', 'id') }}) s
