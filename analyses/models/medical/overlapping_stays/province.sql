-- medical.overlapping_stays at a province node: one token per person with two inpatient
-- stays (med_type 21/22/52, not reversed) at different institutions that overlap by at least
-- $min_overlap_days nights inside the audit window. Nights are least(end) - greatest(begin),
-- both clipped to the window, so a same-day transfer overlaps by 0. A stay without end_date
-- ends on its settlement date. Invalid ID numbers give no token and no row; the ID number
-- itself never leaves the node.
WITH stay AS (
    SELECT
        setl_id,
        id_no,
        id_status,
        fixmedins_code,
        begin_date,
        coalesce(end_date, CAST(setl_time AS DATE)) AS end_date
    FROM med_settlement
    WHERE med_type IN ('21', '22', '52')
      AND NOT coalesce(refund_flag, false)
),
flagged AS (
    SELECT DISTINCT a.id_no, a.id_status
    FROM stay a
    JOIN stay b
      ON a.id_no = b.id_no
     AND a.setl_id < b.setl_id
     AND a.fixmedins_code <> b.fixmedins_code
    WHERE date_diff('day',
                    greatest(a.begin_date, b.begin_date, $period_start),
                    least(a.end_date, b.end_date,
                          CAST($period_end + INTERVAL 1 MONTH AS DATE))) >= $min_overlap_days
)
SELECT DISTINCT token
FROM (SELECT fa_token(id_no, id_status) AS token FROM flagged)
WHERE token IS NOT NULL
ORDER BY token
