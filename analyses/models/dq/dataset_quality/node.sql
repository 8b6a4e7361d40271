-- dq.dataset_quality at any node: the node's own quality facts, one row per dataset and
-- column. `node` stays empty here (a node does not name itself); the combine fills it in.
SELECT
    CAST(NULL AS VARCHAR) AS node,
    dataset,
    column_name,
    column_required,
    period_min,
    period_max,
    missing_month_list,
    data_as_of,
    rows,
    null_count,
    round(CAST(null_count AS DOUBLE) / nullif(rows, 0), 6) AS null_rate,
    invalid_ids,
    missing_months,
    CAST(date_diff('day', data_as_of, $as_of) AS INTEGER) AS lag_days
FROM dataset_quality
ORDER BY dataset, column_name
