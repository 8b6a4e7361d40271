-- medical.overlapping_stays_cross_province at a province node, after the blind join: each
-- returned (token, stay_day) is a night this province and at least one other settled as an
-- inpatient night of the person. Lists, per person, this province's own stays (same rule as
-- the node SQL) holding at least $min_overlap_days returned nights: one case line per stay,
-- its fund payment (fund_pay_sumamt, empty counts as 0) as the amount at stake, with the
-- first and last night held elsewhere, their number and how many other provinces held them
-- (never which ones).
WITH stay AS (
    SELECT
        fa_token(id_no, id_status) AS token,
        setl_id,
        greatest(begin_date, $period_start) AS first_night,
        least(coalesce(end_date, CAST(setl_time AS DATE)),
              CAST($period_end + INTERVAL 1 MONTH AS DATE)) AS night_end
    FROM med_settlement
    WHERE med_type IN ('21', '22', '52')
      AND NOT coalesce(refund_flag, false)
),
held AS (
    SELECT
        s.token,
        s.setl_id,
        count(DISTINCT r.stay_day) AS overlap_days,
        min(r.stay_day) AS first_overlap_day,
        max(r.stay_day) AS last_overlap_day,
        max(r.other_nodes) AS other_nodes
    FROM stay s
    JOIN returned r
      ON r.token = s.token
     AND r.stay_day >= s.first_night
     AND r.stay_day < s.night_end
    GROUP BY s.token, s.setl_id
    HAVING count(DISTINCT r.stay_day) >= $min_overlap_days
)
SELECT
    h.token,
    m.id_no AS subject_id,
    CAST(NULL AS VARCHAR) AS subject_name,
    CAST(coalesce(m.fund_pay_sumamt, 0) AS DECIMAL(18,2)) AS amount,
    m.setl_id,
    m.mdtrt_id,
    m.psn_no,
    m.fixmedins_code,
    m.fixmedins_lv,
    m.med_type,
    m.begin_date,
    m.end_date,
    m.setl_time,
    m.main_diag_code,
    m.medfee_sumamt,
    m.fund_pay_sumamt,
    CAST(h.overlap_days AS INTEGER) AS overlap_days,
    h.first_overlap_day,
    h.last_overlap_day,
    h.other_nodes,
    CAST(sum(coalesce(m.fund_pay_sumamt, 0)) OVER (PARTITION BY h.token) AS DECIMAL(18,2))
        AS person_amount,
    m.insuplc_admdvs,
    m.mdtrtarea_admdvs
FROM held h
JOIN med_settlement m USING (setl_id)
ORDER BY subject_id, m.begin_date, m.setl_id
