-- fund.benefit_summary at a province node: benefit payments per scheme and month.
-- `persons` counts distinct ID numbers inside this node only; the ID itself is only
-- grouped on and counted, never selected. The last two columns are the dominance
-- helpers of `amount` (dominance = true in the manifest): the largest and the
-- second-largest absolute net amount one person received in the cell. The node's
-- disclosure engine reads them to apply the dominance and p% rules, then drops them.
WITH per_person AS (
    SELECT
        scheme_code,
        period,
        id_no,
        count(*) AS payments,
        sum(amount) AS amount
    FROM benefit_payment
    WHERE period BETWEEN $period_start AND $period_end
    GROUP BY scheme_code, period, id_no
)
SELECT
    scheme_code,
    period,
    count(id_no) AS persons,
    CAST(sum(payments) AS BIGINT) AS payments,
    CAST(sum(amount) AS DECIMAL(38, 2)) AS amount,
    CAST(max(abs(amount), 2)[1] AS DECIMAL(38, 2)) AS amount__top1,
    CAST(max(abs(amount), 2)[2] AS DECIMAL(38, 2)) AS amount__top2
FROM per_person
GROUP BY scheme_code, period
ORDER BY scheme_code, period
