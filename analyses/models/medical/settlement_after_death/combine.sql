-- medical.settlement_after_death at HQ: the coordinator's blind-join summary (partials:
-- node_id, level, tokens_submitted, matched) reduced to what HQ sees, the number of leads
-- per province: its patients of the window whom the death register knows as dead. The
-- province keeps those with a settlement begun after death and reports verified outcomes as
-- aggregates. Registry rows and the padded token counts are left out; no token reaches here.
SELECT node_id, CAST(matched AS BIGINT) AS leads
FROM partials
WHERE level <> 'registry'
ORDER BY node_id
