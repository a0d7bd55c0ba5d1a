-- RIS records, one per (student, work), DOIs in their normalised form.
select
    _natural_key                        as ris_entry_key,
    student_id,
    file,
    reference_type,
    title,
    authors,
    year::integer                       as year,
    journal                             as venue,
    nullif(lower(doi), '')              as doi,
    keywords,
    _loaded_at                          as loaded_at
from ({{ latest_per_key(source('raw', 'ris_entries'), '_natural_key', '_loaded_at desc') }}) s
