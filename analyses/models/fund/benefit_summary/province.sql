-- fund.benefit_summary at a province node: benefit payments per scheme and month.
-- `persons` counts distinct ID numbers inside this node only; the ID itself is only
-- counted and never selected.
SELECT
    scheme_code,
    period,
    count(DISTINCT id_no) AS persons,
    count(*) AS payments,
    CAST(sum(amount) AS DECIMAL(38, 2)) AS amount
FROM benefit_payment
WHERE period BETWEEN $period_start AND $period_end
GROUP BY scheme_code, period
ORDER BY scheme_code, period
