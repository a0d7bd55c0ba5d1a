select
    user_id::uuid       as user_id,
    file_id::uuid       as material_id,
    last_opened_at
from ({{ latest_per_key(source('platform', 'platform_user_recent_files'), 'user_id, file_id', 'last_opened_at desc') }}) s
