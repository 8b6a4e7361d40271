-- assistance.enrolled_elsewhere at HQ: the coordinator's blind-join summary (partials:
-- node_id, level, tokens_submitted, matched) reduced to the number of each province's
-- probes found enrolled in another province (persons). The padded token counts are left out; no
-- token ever reaches this step.
SELECT node_id, CAST(matched AS BIGINT) AS persons
FROM partials
ORDER BY node_id
