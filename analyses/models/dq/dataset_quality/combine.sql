-- dq.dataset_quality at HQ: keeps every node's rows apart and names the node on each.
-- Nothing is summed: the quality of one node's data says nothing about another's.
SELECT
    node_id AS node,
    dataset,
    column_name,
    column_required,
    period_min,
    period_max,
    missing_month_list,
    data_as_of,
    rows,
    null_count,
    null_rate,
    invalid_ids,
    missing_months,
    lag_days
FROM partials
ORDER BY node, dataset, column_name
