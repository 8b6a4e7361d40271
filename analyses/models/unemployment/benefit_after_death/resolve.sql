-- unemployment.benefit_after_death at a province node, after the blind join: re-identifies
-- the returned tokens (benefit recipients the death register knows) and lists the
-- unemployment benefit (scheme 210, item 0201) paid for months AFTER the month of death
-- inside the audit window. The death month itself is payable; the one-off 丧葬补助金 (0104)
-- and 抚恤金 (0105) the unemployment fund pays to survivors are never read. Each line is one
-- month with its net amount (a 追回 row with a negative amount cancels the payment it
-- recovers); a person opens a case only when the net sum of these months is above zero, so
-- benefit paid during the registry's notification lag and recovered in full opens none.
-- Priority A: more than $lag_months months overpaid (beyond the usual notification lag).
WITH death AS (
    SELECT token, min(death_date) AS death_date
    FROM returned
    GROUP BY token
),
paid AS (
    SELECT
        d.token,
        b.id_no,
        b.psn_no,
        b.pool_admdvs,
        b.period,
        b.amount,
        b.pay_status,
        d.death_date
    FROM benefit_payment b
    JOIN death d ON fa_token(b.id_no, b.id_status) = d.token
    WHERE b.scheme_code = '210'
      AND b.benefit_item = '0201'
      AND b.period BETWEEN $period_start AND $period_end
      AND b.period > date_trunc('month', d.death_date)
),
line AS (
    SELECT
        token,
        id_no,
        period,
        death_date,
        string_agg(DISTINCT psn_no, ',' ORDER BY psn_no) AS psn_no,
        string_agg(DISTINCT pool_admdvs, ',' ORDER BY pool_admdvs) AS pool_admdvs,
        string_agg(DISTINCT pay_status, ',' ORDER BY pay_status) AS pay_status,
        count(*) AS payment_rows,
        sum(amount) AS amount
    FROM paid
    GROUP BY token, id_no, period, death_date
),
person AS (
    SELECT
        token,
        sum(amount) AS amount,
        count(*) FILTER (WHERE amount > 0) AS months_overpaid,
        min(period) FILTER (WHERE amount > 0) AS first_period,
        max(period) FILTER (WHERE amount > 0) AS last_period
    FROM line
    GROUP BY token
    HAVING sum(amount) > 0
)
SELECT
    l.token,
    l.id_no AS subject_id,
    CAST(NULL AS VARCHAR) AS subject_name,
    CAST(l.amount AS DECIMAL(18,2)) AS amount,
    l.period,
    l.death_date,
    CAST(date_diff('month', date_trunc('month', l.death_date), l.period) AS INTEGER)
        AS months_after_death,
    l.pool_admdvs,
    l.psn_no,
    l.pay_status,
    CAST(l.payment_rows AS INTEGER) AS payment_rows,
    CAST(p.months_overpaid AS INTEGER) AS months_overpaid,
    p.first_period,
    p.last_period,
    CAST(p.amount AS DECIMAL(18,2)) AS person_amount,
    CASE WHEN p.months_overpaid > $lag_months THEN 'A' ELSE 'B' END AS priority
FROM line l
JOIN person p USING (token)
WHERE l.amount <> 0
ORDER BY l.id_no, l.period
