-- fund.benefit_summary at HQ: adds the node cells per region, scheme and month.
-- A person paid in two provinces is counted once by each, so twice over regions.
SELECT
    region,
    scheme_code,
    period,
    CAST(sum(persons) AS BIGINT) AS persons,
    CAST(sum(payments) AS BIGINT) AS payments,
    CAST(sum(amount) AS DECIMAL(38, 2)) AS amount
FROM partials
GROUP BY region, scheme_code, period
ORDER BY region, scheme_code, period
