-- medical.overlapping_stays at a province node, after the return: re-identifies the node's
-- own tokens and lists, per person, every inpatient stay that overlaps a stay at another
-- institution by at least $min_overlap_days nights inside the audit window (the same rule
-- as the node SQL). One case line per stay: its fund payment (fund_pay_sumamt, empty counts
-- as 0) is the amount at stake, since either stay of a pair may be the undue one; the
-- overlapping stays, their institutions, the overlap dates and the longest overlap in nights
-- are the evidence.
WITH stay AS (
    SELECT
        r.token,
        s.setl_id,
        s.id_no,
        s.fixmedins_code,
        s.begin_date,
        coalesce(s.end_date, CAST(s.setl_time AS DATE)) AS stay_end
    FROM med_settlement s
    JOIN returned r ON fa_token(s.id_no, s.id_status) = r.token
    WHERE s.med_type IN ('21', '22', '52')
      AND NOT coalesce(s.refund_flag, false)
),
pair AS (
    SELECT
        a.token,
        a.setl_id AS setl_a,
        b.setl_id AS setl_b,
        a.fixmedins_code AS hosp_a,
        b.fixmedins_code AS hosp_b,
        greatest(a.begin_date, b.begin_date) AS overlap_start,
        least(a.stay_end, b.stay_end) AS overlap_end
    FROM stay a
    JOIN stay b
      ON a.id_no = b.id_no
     AND a.setl_id < b.setl_id
     AND a.fixmedins_code <> b.fixmedins_code
    WHERE date_diff('day',
                    greatest(a.begin_date, b.begin_date, $period_start),
                    least(a.stay_end, b.stay_end,
                          CAST($period_end + INTERVAL 1 MONTH AS DATE))) >= $min_overlap_days
),
side AS (
    SELECT token, setl_a AS setl_id, setl_b AS other_setl_id, hosp_b AS other_fixmedins_code,
           overlap_start, overlap_end
    FROM pair
    UNION ALL
    SELECT token, setl_b, setl_a, hosp_a, overlap_start, overlap_end
    FROM pair
),
involved AS (
    SELECT
        token,
        setl_id,
        string_agg(DISTINCT other_setl_id, ',' ORDER BY other_setl_id) AS overlapping_setl_ids,
        string_agg(DISTINCT other_fixmedins_code, ',' ORDER BY other_fixmedins_code)
            AS overlapping_fixmedins_codes,
        count(DISTINCT other_setl_id) AS overlapping_stays,
        min(overlap_start) AS overlap_start,
        max(overlap_end) AS overlap_end,
        max(date_diff('day', overlap_start, overlap_end)) AS overlap_days
    FROM side
    GROUP BY token, setl_id
),
line AS (
    SELECT
        i.*,
        s.id_no,
        s.mdtrt_id,
        s.psn_no,
        s.fixmedins_code,
        s.fixmedins_lv,
        s.med_type,
        s.begin_date,
        s.end_date,
        s.setl_time,
        s.main_diag_code,
        s.medfee_sumamt,
        s.fund_pay_sumamt,
        s.insuplc_admdvs,
        s.mdtrtarea_admdvs
    FROM involved i
    JOIN med_settlement s USING (setl_id)
)
SELECT
    token,
    id_no AS subject_id,
    CAST(NULL AS VARCHAR) AS subject_name,
    CAST(coalesce(fund_pay_sumamt, 0) AS DECIMAL(18,2)) AS amount,
    setl_id,
    mdtrt_id,
    psn_no,
    fixmedins_code,
    fixmedins_lv,
    med_type,
    begin_date,
    end_date,
    setl_time,
    main_diag_code,
    medfee_sumamt,
    fund_pay_sumamt,
    overlapping_setl_ids,
    overlapping_fixmedins_codes,
    CAST(overlapping_stays AS INTEGER) AS overlapping_stays,
    overlap_start,
    overlap_end,
    CAST(overlap_days AS INTEGER) AS overlap_days,
    CAST(sum(coalesce(fund_pay_sumamt, 0)) OVER (PARTITION BY token) AS DECIMAL(18,2))
        AS person_amount,
    insuplc_admdvs,
    mdtrtarea_admdvs
FROM line
ORDER BY subject_id, begin_date, setl_id
