-- medical.settlement_after_death at a province node, after the blind join: re-identifies the
-- returned tokens (persons the death register knows) and lists their settlements whose
-- service began more than $tolerance_days days after the death date, inside the audit window,
-- that were not reversed (refund_flag not true). A patient admitted before death and
-- discharged dead is legitimate and never listed. One case line per settlement; the amount
-- at stake is what the fund and the personal account paid (fund_pay_sumamt + acct_pay).
WITH death AS (
    SELECT token, min(death_date) AS death_date
    FROM returned
    GROUP BY token
)
SELECT
    d.token,
    s.id_no AS subject_id,
    CAST(NULL AS VARCHAR) AS subject_name,
    CAST(coalesce(s.fund_pay_sumamt, 0) + coalesce(s.acct_pay, 0) AS DECIMAL(18,2)) AS amount,
    s.setl_id,
    s.mdtrt_id,
    s.psn_no,
    s.fixmedins_code,
    s.med_type,
    s.begin_date,
    s.end_date,
    s.setl_time,
    d.death_date,
    CAST(date_diff('day', d.death_date, s.begin_date) AS INTEGER) AS days_after_death,
    s.medfee_sumamt,
    s.fund_pay_sumamt,
    s.acct_pay,
    s.insuplc_admdvs,
    s.mdtrtarea_admdvs
FROM med_settlement s
JOIN death d ON fa_token(s.id_no, s.id_status) = d.token
WHERE s.begin_date >= $period_start
  AND s.begin_date < $period_end + INTERVAL 1 MONTH
  AND s.begin_date > d.death_date + CAST($tolerance_days AS INTEGER)
  AND NOT coalesce(s.refund_flag, false)
ORDER BY s.id_no, s.begin_date, s.setl_id
