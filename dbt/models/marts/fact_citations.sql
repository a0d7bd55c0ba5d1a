-- Every DOI a student cites anywhere (notes, Zotero, BibTeX, RIS) with what OpenAlex or Crossref say
-- about it: one row per student and DOI.
with cited as (
    select student_id, jsonb_array_elements_text(dois) as doi, note_path, null::text as zotero_key, null::text as bibtex_key
    from {{ ref('stg_notes') }}
    union all
    select student_id, doi, null, zotero_key, null from {{ ref('stg_zotero_items') }} where doi is not null
    union all
    select student_id, doi, null, null, citation_key from {{ ref('stg_bibtex_entries') }} where doi is not null
    union all
    select student_id, doi, null, null, null from {{ ref('stg_ris_entries') }} where doi is not null
),

per_student as (
    select
        student_id,
        doi,
        min(zotero_key)                      as zotero_key,
        min(bibtex_key)                      as bibtex_key,
        min(note_path)                       as note_path,
        count(*)                             as mentions
    from cited
    group by student_id, doi
)

select
    md5(p.student_id || ':' || p.doi)        as citation_sk,
    {{ student_uuid('p.student_id') }}         as student_id,
    p.doi,
    c.provider,
    coalesce(c.resolved, false)              as resolved,
    c.title,
    c.year,
    c.venue,
    c.cited_by_count,
    c.is_retracted,
    p.zotero_key,
    p.bibtex_key,
    p.note_path,
    p.mentions,
    c.failure_reason,
    c.fetched_at
from per_student as p
left join {{ ref('stg_citation_cache') }} as c using (doi)
