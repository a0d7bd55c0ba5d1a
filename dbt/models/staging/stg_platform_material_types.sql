select
    id::integer     as material_type_id,
    display_name    as material_type
from ({{ latest_per_key(source('platform', 'platform_material_types'), 'id', 'id') }}) s
