-- Personal data of platform students (login e-mail and display name), kept out of the gold layer:
-- the BI role reads marts and ml only, so it cannot reach this schema. The digests and anything else
-- that must address a student join it on student_id with the owner's connection.
select
    s.user_id                            as student_id,
    s.email,
    s.user_name                          as student_name
from {{ ref('stg_platform_users') }} as s
where s.role = 'STUDENT'
