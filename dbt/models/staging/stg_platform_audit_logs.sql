select
    id::uuid            as audit_log_id,
    actor_id::uuid      as actor_id,
    action,
    entity,
    entity_id::uuid     as entity_id,
    details::jsonb      as details,
    created_at
from ({{ latest_per_key(source('platform', 'platform_audit_logs'), 'id', 'created_at') }}) s
