-- assistance.not_enrolled at HQ: adds the node cells per region and programme (an empty
-- programme is a region's total) and recomputes the share. A person on assistance in two
-- provinces is counted once by each, so twice here.
SELECT
    region,
    program,
    CAST(sum(target_persons) AS BIGINT) AS target_persons,
    CAST(sum(not_enrolled) AS BIGINT) AS not_enrolled,
    round(100.0 * sum(not_enrolled) / sum(target_persons), 2) AS not_enrolled_pct
FROM partials
GROUP BY region, program
ORDER BY region, program NULLS LAST
