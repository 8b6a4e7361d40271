-- unemployment.benefit_after_death at HQ: the coordinator's blind-join summary (partials:
-- node_id, level, tokens_submitted, matched) reduced to what HQ sees, the number of leads
-- per province: its unemployment-benefit recipients of the window whom the death register
-- knows as dead. A lead is not yet a finding: the province re-identifies its leads, keeps
-- those paid after the death month (net) and reports the verified outcomes as aggregates.
-- Registry rows and the padded token counts are left out; no token ever reaches this step.
SELECT node_id, CAST(matched AS BIGINT) AS leads
FROM partials
WHERE level <> 'registry'
ORDER BY node_id
