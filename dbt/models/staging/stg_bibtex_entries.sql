-- BibTeX entries, one per (student, file, citation key), DOIs in their normalised form.
select
    _natural_key                        as bibtex_entry_key,
    student_id,
    file,
    citation_key,
    lower(entry_type)                   as entry_type,
    title,
    authors,
    year::integer                       as year,
    coalesce(journal, booktitle)        as venue,
    nullif(lower(doi), '')              as doi,
    url,
    keywords,
    _loaded_at                          as loaded_at
from ({{ latest_per_key(source('raw', 'bibtex_entries'), '_natural_key', '_loaded_at desc') }}) s
