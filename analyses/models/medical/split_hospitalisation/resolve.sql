-- medical.split_hospitalisation at a province node, after the return: re-identifies the
-- node's own tokens and lists every flagged readmission of the person (the same rule as the
-- node SQL): one case line per readmission, its fund payment (fund_pay_sumamt, empty counts
-- as 0) as the amount at stake, with the previous stay at the same institution, the gap in
-- days and both diagnoses as evidence.
WITH stay AS (
    SELECT
        r.token,
        s.id_no,
        s.setl_id,
        s.mdtrt_id,
        s.fixmedins_code,
        upper(s.main_diag_code) AS diag,
        s.begin_date,
        coalesce(s.end_date, CAST(s.setl_time AS DATE)) AS stay_end
    FROM med_settlement s
    JOIN returned r ON fa_token(s.id_no, s.id_status) = r.token
    WHERE s.med_type IN ('21', '22')
      AND NOT coalesce(s.refund_flag, false)
),
ordered AS (
    SELECT
        *,
        lag(setl_id) OVER w AS prev_setl_id,
        lag(mdtrt_id) OVER w AS prev_mdtrt_id,
        lag(begin_date) OVER w AS prev_begin_date,
        lag(stay_end) OVER w AS prev_end,
        lag(diag) OVER w AS prev_diag
    FROM stay
    WINDOW w AS (PARTITION BY id_no, fixmedins_code ORDER BY begin_date, stay_end, setl_id)
),
readmission AS (
    SELECT token, setl_id, prev_setl_id, prev_begin_date, prev_end, prev_diag,
           date_diff('day', prev_end, begin_date) AS gap_days
    FROM ordered
    WHERE begin_date >= $period_start
      AND begin_date < CAST($period_end + INTERVAL 1 MONTH AS DATE)
      AND date_diff('day', prev_end, begin_date) BETWEEN 0 AND $max_gap_days
      AND mdtrt_id <> prev_mdtrt_id
      AND left(diag, 3) = left(prev_diag, 3)
      AND NOT list_contains(string_split(upper(replace($exempt_categories, ' ', '')), ','),
                            left(diag, 3))
)
SELECT
    r.token,
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
    r.prev_setl_id,
    r.prev_begin_date,
    r.prev_end AS prev_end_date,
    r.prev_diag AS prev_diag_code,
    CAST(r.gap_days AS INTEGER) AS gap_days,
    CAST(count(*) OVER (PARTITION BY r.token) AS INTEGER) AS readmissions,
    CAST(sum(coalesce(m.fund_pay_sumamt, 0)) OVER (PARTITION BY r.token) AS DECIMAL(18,2))
        AS person_amount,
    m.insuplc_admdvs,
    m.mdtrtarea_admdvs
FROM readmission r
JOIN med_settlement m USING (setl_id)
ORDER BY subject_id, m.begin_date, m.setl_id
