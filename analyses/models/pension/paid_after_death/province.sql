-- pension.paid_after_death at a province node: the token of every person paid a basic
-- pension (scheme 110/120/170, item 0101/0102/0103) for a month of the audit window. The
-- death date is the registry's attribute, so a province returns it as a typed NULL. Invalid
-- ID numbers give no token and no row; the ID number itself never leaves the node.
SELECT DISTINCT token, CAST(NULL AS DATE) AS death_date
FROM (
    SELECT fa_token(id_no, id_status) AS token
    FROM benefit_payment
    WHERE scheme_code IN ('110', '120', '170')
      AND benefit_item IN ('0101', '0102', '0103')
      AND period BETWEEN $period_start AND $period_end
)
WHERE token IS NOT NULL
ORDER BY token
