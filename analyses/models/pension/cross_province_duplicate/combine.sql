-- pension.cross_province_duplicate at HQ: the coordinator's blind-join summary (partials:
-- node_id, level, tokens_submitted, matched) reduced to the number of leads per province:
-- its pensioners paid by at least one other province for the same month. A person paid by
-- two provinces is a lead in both, so the sum over provinces counts such a person twice.
-- The padded token counts are left out; no token ever reaches this step.
SELECT node_id, CAST(matched AS BIGINT) AS leads
FROM partials
WHERE level <> 'registry'
ORDER BY node_id
