-- fund.benefit_summary at a province node: benefit payments per region, scheme and month.
-- `region` is the province of the paying pool: the first two digits of pool_admdvs
-- padded to a 6-digit GB/T 2260 code, so a result can be shared region by region.
-- `persons` counts distinct ID numbers inside this node only; the ID itself is only
-- grouped on and counted, never selected. The last two columns are the dominance
-- helpers of `amount` (dominance = true in the manifest): the largest and the
-- second-largest absolute net amount one person received in the cell. The node's
-- disclosure engine reads them to apply the dominance and p% rules, then drops them.
WITH per_person AS (
    SELECT
        substr(pool_admdvs, 1, 2) || '0000' AS region,
        scheme_code,
        period,
        id_no,
        count(*) AS payments,
        sum(amount) AS amount
    FROM benefit_payment
    WHERE period BETWEEN $period_start AND $period_end
    GROUP BY region, scheme_code, period, id_no
)
SELECT
    region,
    scheme_code,
    period,
    count(id_no) AS persons,
    CAST(sum(payments) AS BIGINT) AS payments,
    CAST(sum(amount) AS DECIMAL(38, 2)) AS amount,
    CAST(max(abs(amount), 2)[1] AS DECIMAL(38, 2)) AS amount__top1,
    CAST(max(abs(amount), 2)[2] AS DECIMAL(38, 2)) AS amount__top2
FROM per_person
GROUP BY region, scheme_code, period
ORDER BY region, scheme_code, period
