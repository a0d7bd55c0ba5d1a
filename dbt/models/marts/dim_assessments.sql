-- Assessments as the student saw them over time (SCD2). What did a student believe was due on a
-- given day X? One query:
--   select note_path, course_code, due_date, weight_pct, status
--   from marts.dim_assessments
--   where student_id = :student and valid_from <= :X and (valid_to is null or valid_to > :X);
select
    md5(note_key || ':' || dbt_valid_from::text)   as assessment_sk,
    note_key                                       as assessment_key,
    {{ student_uuid('student_id') }}               as student_id,
    note_path::text                                as note_path,
    course_code,
    due_date,
    weight_pct,
    status,
    dbt_valid_from                                 as valid_from,
    dbt_valid_to                                   as valid_to,
    dbt_valid_to is null                           as is_current,
    recorded_at
from {{ ref('assessments_snapshot') }}
