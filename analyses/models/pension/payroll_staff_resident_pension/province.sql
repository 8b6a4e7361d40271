-- pension.payroll_staff_resident_pension at a province node: one row per person who, for at
-- least $min_months months of the audit window, was paid a resident pension (scheme 170,
-- items 0101/0102/0103, net of recoveries, above zero) and was on the public payroll the same
-- month as serving (status 1) or retired (status 2) staff of any staffing type but 50 (village
-- and community cadres, who lawfully draw the resident pension). Persons are compared by ID
-- number and only the flagged ones are tokenised; invalid ID numbers give no token and no row.
WITH resident AS (
    SELECT id_no, id_status, period
    FROM benefit_payment
    WHERE scheme_code = '170'
      AND benefit_item IN ('0101', '0102', '0103')
      AND period BETWEEN $period_start AND $period_end
    GROUP BY id_no, id_status, period
    HAVING sum(amount) > 0
),
payroll AS (
    SELECT DISTINCT id_no, period
    FROM public_payroll
    WHERE status IN ('1', '2')
      AND staffing_type <> '50'
      AND period BETWEEN $period_start AND $period_end
),
person AS (
    SELECT r.id_no, r.id_status
    FROM resident r
    JOIN payroll p USING (id_no, period)
    GROUP BY r.id_no, r.id_status
    HAVING count(*) >= $min_months
)
SELECT DISTINCT token
FROM (SELECT fa_token(id_no, id_status) AS token FROM person)
WHERE token IS NOT NULL
ORDER BY token
