-- medical.overlapping_stays_cross_province at HQ: the coordinator's blind-join summary
-- (partials: node_id, level, tokens_submitted, matched) reduced to the number of leads per
-- province: its persons with at least one inpatient night that another province settled too.
-- A person found in two provinces is a lead in both, so the sum over provinces counts such a
-- person twice. The padded row counts are left out; no token ever reaches this step.
SELECT node_id, CAST(matched AS BIGINT) AS leads
FROM partials
WHERE level <> 'registry'
ORDER BY node_id
