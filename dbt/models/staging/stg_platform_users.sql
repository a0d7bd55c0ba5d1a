select
    id::uuid                    as user_id,
    lower(email)                as email,
    name                        as user_name,
    upper(role)                 as role,
    major_id::uuid              as major_id,
    total_points::integer       as total_points,
    created_at,
    updated_at
from ({{ latest_per_key(source('platform', 'platform_users'), 'id', 'updated_at desc') }}) s
