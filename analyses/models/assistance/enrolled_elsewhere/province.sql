-- assistance.enrolled_elsewhere at a province node: the tokens of its assistance members with
-- no basic pension enrolment (110/120/170) here, as probes, and of every person with such an
-- enrolment here, as present. Only tokens and the side leave; invalid ID numbers give no
-- token and no row.
WITH enrolled AS (
    SELECT DISTINCT fa_token(id_no, id_status) AS token
    FROM insured_person
    WHERE scheme_code IN ('110', '120', '170')
),
member AS (
    SELECT DISTINCT fa_token(id_no, id_status) AS token
    FROM assistance_member
)
SELECT token, 'probe' AS side
FROM member m
WHERE token IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM enrolled e WHERE e.token = m.token)
UNION ALL
SELECT token, 'present' AS side
FROM enrolled
WHERE token IS NOT NULL
ORDER BY side, token
