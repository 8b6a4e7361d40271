-- medical.settlement_after_death at a province node: the token of every person with a
-- medical settlement (med_settlement) whose service began in a month of the audit window.
-- The death date is the registry's attribute, so a province returns it as a typed NULL.
-- Invalid ID numbers give no token and no row; the ID number itself never leaves the node.
SELECT DISTINCT token, CAST(NULL AS DATE) AS death_date
FROM (
    SELECT fa_token(id_no, id_status) AS token
    FROM med_settlement
    WHERE begin_date >= $period_start
      AND begin_date < $period_end + INTERVAL 1 MONTH
)
WHERE token IS NOT NULL
ORDER BY token
