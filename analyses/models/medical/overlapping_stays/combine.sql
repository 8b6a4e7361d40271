-- medical.overlapping_stays at HQ: a local model joins nothing, so the coordinator's summary
-- (partials: node_id, level, tokens_submitted, matched) holds only padded token counts and no
-- match count. HQ learns which provinces ran the model; the number of cases, their outcomes
-- and amounts arrive with each province's verification report. No token reaches this step.
SELECT node_id
FROM partials
ORDER BY node_id
