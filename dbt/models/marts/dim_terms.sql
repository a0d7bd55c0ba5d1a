-- The academic terms: semester 1 from September to January, semester 2 from February to June (the
-- dates are dbt vars, change them for another calendar), for the academic years around today.
{% set s1 = var('semester_1', {'starts': '09-01', 'ends': '01-31'}) %}
{% set s2 = var('semester_2', {'starts': '02-01', 'ends': '06-30'}) %}

with years as (
    select generate_series(
        extract(year from now())::integer - 6,
        extract(year from now())::integer + 2
    ) as start_year
),

terms as (
    select
        start_year,
        1 as semester,
        to_date(start_year::text || '-{{ s1.starts }}', 'YYYY-MM-DD') as starts_on,
        to_date((start_year + 1)::text || '-{{ s1.ends }}', 'YYYY-MM-DD') as ends_on
    from years
    union all
    select
        start_year,
        2,
        to_date((start_year + 1)::text || '-{{ s2.starts }}', 'YYYY-MM-DD'),
        to_date((start_year + 1)::text || '-{{ s2.ends }}', 'YYYY-MM-DD')
    from years
)

select
    start_year::text || '/' || (start_year + 1)::text || '-S' || semester::text   as term_code,
    start_year::text || '/' || (start_year + 1)::text                             as academic_year,
    semester,
    starts_on,
    ends_on
from terms
