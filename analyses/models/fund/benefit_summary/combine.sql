-- fund.benefit_summary at HQ: adds the province cells per scheme and month.
-- A person paid in two provinces is counted once by each, so twice here.
SELECT
    scheme_code,
    period,
    CAST(sum(persons) AS BIGINT) AS persons,
    CAST(sum(payments) AS BIGINT) AS payments,
    CAST(sum(amount) AS DECIMAL(38, 2)) AS amount
FROM partials
GROUP BY scheme_code, period
ORDER BY scheme_code, period
