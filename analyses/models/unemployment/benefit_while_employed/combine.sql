-- unemployment.benefit_while_employed at HQ. The model joins nothing across nodes (linkage
-- pattern local): each province tokenised its own flagged persons under a key it drew
-- itself, and the coordinator handed each province back its own token set. The join summary
-- (partials: node_id, level, tokens_submitted, matched) therefore says only which provinces
-- answered and how many tokens each released, PADDED with dummies to the province's token
-- bucket: an upper bound, not a count of persons. The number of persons, cases and amounts
-- reach HQ through the provinces' verification reports (`fedaudit results verification`).
SELECT node_id, CAST(tokens_submitted AS BIGINT) AS tokens_released_padded
FROM partials
ORDER BY node_id
