-- What each student reads, across Zotero, BibTeX and RIS: one row per student and work. A work is its
-- DOI where there is one, else its normalised title. linked_note_path is a reading note in the vault
-- that cites the DOI; has_notes says the student wrote about it (that note, or Zotero child notes).
with zotero_works as (
    select student_id, doi, title, year, zotero_key, null::text as bibtex_key, null::text as ris_key
    from {{ ref('stg_zotero_items') }}
    where item_type not in ('note', 'attachment', 'annotation')
),

zotero_child_notes as (
    select student_id, parent_zotero_key as zotero_key, count(*) as child_notes
    from {{ ref('stg_zotero_items') }}
    where item_type = 'note' and parent_zotero_key is not null
    group by 1, 2
),

all_works as (
    select * from zotero_works
    union all
    select student_id, doi, title, year, null, citation_key, null from {{ ref('stg_bibtex_entries') }}
    union all
    select student_id, doi, title, year, null, null, ris_entry_key from {{ ref('stg_ris_entries') }}
),

identified as (
    select
        *,
        coalesce('doi:' || doi, 'title:' || trim(lower(regexp_replace(coalesce(title, ''), '[^[:alnum:]]+', ' ', 'g')))) as work_key
    from all_works
    -- A work needs a DOI or a title with at least one letter or digit to be told apart from others.
    where doi is not null or coalesce(title, '') ~ '[[:alnum:]]'
),

works as (
    select
        student_id,
        work_key,
        max(doi)                                        as doi,
        (array_agg(title order by zotero_key nulls last, bibtex_key nulls last))[1] as title,
        max(year)                                       as year,
        min(zotero_key)                                 as zotero_key,
        min(bibtex_key)                                 as bibtex_key,
        min(ris_key)                                    as ris_key
    from identified
    group by student_id, work_key
),

reading_notes as (
    select student_id, jsonb_array_elements_text(dois) as doi, min(note_path) as note_path
    from {{ ref('stg_notes') }}
    group by 1, 2
)

select
    md5(w.student_id || ':' || w.work_key)                                 as reading_sk,
    {{ student_uuid('w.student_id') }}                                   as student_id,
    w.work_key,
    w.doi,
    w.title,
    w.year,
    w.zotero_key,
    w.bibtex_key,
    w.ris_key,
    n.note_path                                                            as linked_note_path,
    (n.note_path is not null or coalesce(z.child_notes, 0) > 0)           as has_notes
from works as w
left join reading_notes as n on n.student_id = w.student_id and n.doi = w.doi
left join zotero_child_notes as z on z.student_id = w.student_id and z.zotero_key = w.zotero_key
