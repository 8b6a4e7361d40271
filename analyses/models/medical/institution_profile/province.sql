-- medical.institution_profile at a province node: one row per designated hospital
-- (fixmedins_code H...) and year of settlement, over its non-refunded inpatient stays
-- (med_type 21/22). `patients` counts distinct ID numbers inside this node only; the ID is
-- only grouped on and counted, never selected. A readmission is MED-04's rule: the same
-- person back at the same hospital within $max_gap_days days of discharge with the same
-- 3-character diagnosis, planned cycles (Z51 chemotherapy, N18 dialysis) excepted; the
-- previous stay is looked up over all dates, so a stay early in the window still counts.
-- The columns `node`, `peers`, the z-scores, `outlier_kpis`, `outlier` and `profile_class`
-- are filled by the combine step at HQ (peer comparison needs every institution) and are
-- empty here. The last four columns are the dominance helpers of `ipt_cost_total` and
-- `fund_paid`: the two largest per-patient sums, which the node's disclosure engine reads
-- and drops.
WITH stays AS (
    SELECT
        id_no,
        fixmedins_code,
        fixmedins_lv,
        setl_time,
        medfee_sumamt,
        coalesce(fund_pay_sumamt, 0) AS fund_pay,
        date_diff('day', begin_date, end_date) AS los,
        main_diag_code,
        lag(end_date) OVER w AS prev_end,
        lag(main_diag_code) OVER w AS prev_diag,
        begin_date
    FROM med_settlement
    WHERE med_type IN ('21', '22')
      AND NOT coalesce(refund_flag, false)
      AND fixmedins_code LIKE 'H%'
    WINDOW w AS (PARTITION BY id_no, fixmedins_code ORDER BY begin_date, end_date, setl_id)
), flagged AS (
    SELECT
        *,
        CAST(year(setl_time) AS INTEGER) AS year,
        prev_end IS NOT NULL
            AND date_diff('day', prev_end, begin_date) BETWEEN 0 AND $max_gap_days
            AND left(main_diag_code, 3) = left(prev_diag, 3)
            AND main_diag_code NOT LIKE 'Z51%'
            AND main_diag_code NOT LIKE 'N18%' AS readmission
    FROM stays
    WHERE setl_time >= $period_start
      AND setl_time < $period_end + INTERVAL 1 MONTH
), per_person AS (
    SELECT
        fixmedins_code,
        year,
        id_no,
        -- One hospital has one level; min() keeps a stray recoding from splitting the row.
        min(fixmedins_lv) AS fixmedins_lv,
        count(*) AS stays,
        sum(medfee_sumamt) AS cost,
        sum(fund_pay) AS fund,
        sum(los) AS los_days,
        count(*) FILTER (WHERE readmission) AS readmissions
    FROM flagged
    GROUP BY fixmedins_code, year, id_no
)
SELECT
    CAST(NULL AS VARCHAR) AS node,
    fixmedins_code,
    min(fixmedins_lv) AS fixmedins_lv,
    substr(fixmedins_code, 2, 6) AS region,
    year,
    CAST(NULL AS BOOLEAN) AS outlier,
    CAST(NULL AS VARCHAR) AS profile_class,
    count(*) AS patients,
    CAST(sum(stays) AS BIGINT) AS admissions,
    CAST(sum(cost) AS DECIMAL(38, 2)) AS ipt_cost_total,
    CAST(sum(fund) AS DECIMAL(38, 2)) AS fund_paid,
    CAST(round(sum(cost) / sum(stays), 2) AS DECIMAL(14, 2)) AS avg_ipt_cost,
    CAST(round(sum(fund) / sum(stays), 2) AS DECIMAL(14, 2)) AS avg_fund_per_stay,
    round(sum(los_days) / sum(stays), 2) AS avg_los,
    CAST(sum(readmissions) AS BIGINT) AS readmissions,
    round(sum(readmissions) / sum(stays), 4) AS readmission_rate,
    round(sum(stays) / count(*), 4) AS stays_per_patient,
    CAST(NULL AS INTEGER) AS peers,
    CAST(NULL AS DOUBLE) AS z_cost,
    CAST(NULL AS DOUBLE) AS z_fund,
    CAST(NULL AS DOUBLE) AS z_los,
    CAST(NULL AS DOUBLE) AS z_readmission,
    CAST(NULL AS DOUBLE) AS z_stays,
    CAST(NULL AS INTEGER) AS outlier_kpis,
    CAST(max(abs(cost), 2)[1] AS DECIMAL(38, 2)) AS ipt_cost_total__top1,
    CAST(max(abs(cost), 2)[2] AS DECIMAL(38, 2)) AS ipt_cost_total__top2,
    CAST(max(abs(fund), 2)[1] AS DECIMAL(38, 2)) AS fund_paid__top1,
    CAST(max(abs(fund), 2)[2] AS DECIMAL(38, 2)) AS fund_paid__top2
FROM per_person
GROUP BY fixmedins_code, year
ORDER BY fixmedins_code, year
