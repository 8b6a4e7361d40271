-- pension.dual_scheme at a province node: one row per person paid, for at least $min_months
-- months of the audit window, both a resident pension (scheme 170) and an employee or
-- civil-service pension (scheme 110/120) with a net amount above zero. Only basic pension
-- items count (0101/0102/0103; never 0104 丧葬补助金 or 0105 抚恤金), and a month paid and
-- recovered nets to zero. Persons are compared by ID number and only the flagged ones are
-- tokenised; invalid ID numbers give no token and no row, and the ID never leaves the node.
WITH month AS (
    SELECT
        id_no,
        id_status,
        period,
        sum(amount) FILTER (WHERE scheme_code = '170') AS resident_net,
        sum(amount) FILTER (WHERE scheme_code IN ('110', '120')) AS employee_net
    FROM benefit_payment
    WHERE scheme_code IN ('110', '120', '170')
      AND benefit_item IN ('0101', '0102', '0103')
      AND period BETWEEN $period_start AND $period_end
    GROUP BY id_no, id_status, period
),
person AS (
    SELECT id_no, id_status
    FROM month
    WHERE resident_net > 0 AND employee_net > 0
    GROUP BY id_no, id_status
    HAVING count(*) >= $min_months
)
SELECT DISTINCT token
FROM (SELECT fa_token(id_no, id_status) AS token FROM person)
WHERE token IS NOT NULL
ORDER BY token
