select
    id::uuid                as task_id,
    user_id::uuid           as user_id,
    title,
    "date"::date            as task_date,
    start_hour::integer     as start_hour,
    duration::integer       as duration_minutes,
    lower(priority)         as priority,
    completed,
    created_at,
    updated_at
from ({{ latest_per_key(source('platform', 'platform_user_tasks'), 'id', 'updated_at desc') }}) s
