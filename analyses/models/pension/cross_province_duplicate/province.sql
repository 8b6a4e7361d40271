-- pension.cross_province_duplicate at a province node: one row per person and month of the
-- audit window in which this province paid the person a basic pension (scheme 110/120/170,
-- item 0101/0102/0103) with a net amount above zero. A month paid and recovered (a 追回 row
-- cancelling the payment, as when a pension moves to another province) nets to zero and is
-- not sent. Only the token and the month leave; invalid ID numbers give no token and no row.
WITH month AS (
    SELECT fa_token(id_no, id_status) AS token, period, sum(amount) AS net
    FROM benefit_payment
    WHERE scheme_code IN ('110', '120', '170')
      AND benefit_item IN ('0101', '0102', '0103')
      AND period BETWEEN $period_start AND $period_end
    GROUP BY ALL
)
SELECT token, period
FROM month
WHERE token IS NOT NULL AND net > 0
ORDER BY token, period
