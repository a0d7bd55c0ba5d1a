-- Zotero items (top-level works, notes and attachments), latest version per item.
select
    _natural_key                        as zotero_item_key,
    student_id,
    library_type,
    library_id,
    item_key                            as zotero_key,
    item_version,
    item_type,
    title,
    nullif(lower(doi), '')              as doi,
    year::integer                       as year,
    creators,
    tags,
    parent_item                         as parent_zotero_key,
    note,
    date_added,
    date_modified,
    _loaded_at                          as loaded_at
from ({{ latest_per_key(source('raw', 'zotero_items'), '_natural_key', 'item_version desc') }}) s
