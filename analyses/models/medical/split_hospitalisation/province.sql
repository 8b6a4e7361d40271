-- medical.split_hospitalisation at a province node: one token per person with a flagged
-- readmission. Each inpatient stay (med_type 21/22, not reversed) is compared with the
-- person's previous stay at the same institution: flagged when it begins in the audit window,
-- 0 to $max_gap_days days after that stay ended, as a new admission (another mdtrt_id), with
-- the same 3-character diagnosis category, which is not one of $exempt_categories (planned
-- cycles such as chemotherapy or dialysis). Invalid ID numbers give no token and no row; the
-- ID number itself never leaves the node.
WITH stay AS (
    SELECT
        id_no,
        id_status,
        setl_id,
        mdtrt_id,
        fixmedins_code,
        upper(main_diag_code) AS diag,
        begin_date,
        coalesce(end_date, CAST(setl_time AS DATE)) AS stay_end
    FROM med_settlement
    WHERE med_type IN ('21', '22')
      AND NOT coalesce(refund_flag, false)
),
ordered AS (
    SELECT
        *,
        lag(mdtrt_id) OVER w AS prev_mdtrt_id,
        lag(stay_end) OVER w AS prev_end,
        lag(diag) OVER w AS prev_diag
    FROM stay
    WINDOW w AS (PARTITION BY id_no, fixmedins_code ORDER BY begin_date, stay_end, setl_id)
),
flagged AS (
    SELECT DISTINCT id_no, id_status
    FROM ordered
    WHERE begin_date >= $period_start
      AND begin_date < CAST($period_end + INTERVAL 1 MONTH AS DATE)
      AND date_diff('day', prev_end, begin_date) BETWEEN 0 AND $max_gap_days
      AND mdtrt_id <> prev_mdtrt_id
      AND left(diag, 3) = left(prev_diag, 3)
      AND NOT list_contains(string_split(upper(replace($exempt_categories, ' ', '')), ','),
                            left(diag, 3))
)
SELECT DISTINCT token
FROM (SELECT fa_token(id_no, id_status) AS token FROM flagged)
WHERE token IS NOT NULL
ORDER BY token
