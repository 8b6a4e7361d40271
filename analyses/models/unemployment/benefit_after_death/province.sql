-- unemployment.benefit_after_death at a province node: the token of every person paid
-- unemployment benefit (失业保险金: scheme 210, item 0201) for a month of the audit window.
-- The death date is the registry's attribute, so a province returns it as a typed NULL.
-- Invalid ID numbers give no token and no row; the ID number itself never leaves the node.
SELECT DISTINCT token, CAST(NULL AS DATE) AS death_date
FROM (
    SELECT fa_token(id_no, id_status) AS token
    FROM benefit_payment
    WHERE scheme_code = '210'
      AND benefit_item = '0201'
      AND period BETWEEN $period_start AND $period_end
)
WHERE token IS NOT NULL
ORDER BY token
