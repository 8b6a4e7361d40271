-- assistance.household_assets at HQ: the coordinator's blind-join summary (partials: node_id,
-- level, tokens_submitted, matched) reduced to what HQ sees, the number of leads per
-- province: its active assistance members whom a registry (vehicles, real estate, business)
-- lists with a current record. A lead is not yet a finding: the province groups its leads'
-- assets by household, applies the exemptions and thresholds, opens one case per household
-- and reports the verified outcomes as aggregates. Registry rows and the padded token counts
-- are left out; no token ever reaches this step.
SELECT node_id, CAST(matched AS BIGINT) AS leads
FROM partials
WHERE level <> 'registry'
ORDER BY node_id
