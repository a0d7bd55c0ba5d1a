select
    id::uuid            as points_transaction_id,
    user_id::uuid       as user_id,
    amount::integer     as amount,
    action,
    reason,
    request_id::uuid    as file_request_id,
    source_id,
    created_at
from ({{ latest_per_key(source('platform', 'platform_points_transactions'), 'id', 'created_at') }}) s
