-- One row per DOI with what OpenAlex or Crossref say about it.
select
    doi,
    resolved,
    provider,
    title,
    year::integer                       as year,
    venue,
    authors,
    cited_by_count::integer             as cited_by_count,
    is_retracted,
    work_type,
    failure_reason,
    fetched_at
from ({{ latest_per_key(source('raw', 'citation_cache'), 'doi', 'fetched_at desc') }}) s
