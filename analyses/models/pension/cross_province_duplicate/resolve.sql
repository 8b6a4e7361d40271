-- pension.cross_province_duplicate at a province node, after the blind join: each returned
-- (token, period) is a month in which this province and at least one other paid the person a
-- net basic pension. One case line per person and month: this province's own net basic
-- pension of the month (the amount at stake here; the other province holds its own lines),
-- with the schemes, items, accounts and pools it was paid under and how many other provinces
-- paid the same month (never which ones).
WITH hit AS (
    SELECT
        r.token,
        r.period,
        r.other_nodes,
        b.id_no,
        b.psn_no,
        b.pool_admdvs,
        b.scheme_code,
        b.benefit_item,
        b.pay_status,
        b.amount
    FROM benefit_payment b
    JOIN returned r
      ON fa_token(b.id_no, b.id_status) = r.token AND b.period = r.period
    WHERE b.scheme_code IN ('110', '120', '170')
      AND b.benefit_item IN ('0101', '0102', '0103')
      AND b.period BETWEEN $period_start AND $period_end
),
line AS (
    SELECT
        token,
        id_no,
        period,
        max(other_nodes) AS other_nodes,
        string_agg(DISTINCT scheme_code, ',' ORDER BY scheme_code) AS scheme_code,
        string_agg(DISTINCT benefit_item, ',' ORDER BY benefit_item) AS benefit_item,
        string_agg(DISTINCT psn_no, ',' ORDER BY psn_no) AS psn_no,
        string_agg(DISTINCT pool_admdvs, ',' ORDER BY pool_admdvs) AS pool_admdvs,
        string_agg(DISTINCT pay_status, ',' ORDER BY pay_status) AS pay_status,
        count(*) AS payment_rows,
        sum(amount) AS amount
    FROM hit
    GROUP BY token, id_no, period
),
person AS (
    SELECT token, count(*) AS duplicate_months, min(period) AS first_period,
           max(period) AS last_period, sum(amount) AS person_amount
    FROM line
    WHERE amount > 0
    GROUP BY token
)
SELECT
    l.token,
    l.id_no AS subject_id,
    CAST(NULL AS VARCHAR) AS subject_name,
    CAST(l.amount AS DECIMAL(18,2)) AS amount,
    l.period,
    l.scheme_code,
    l.benefit_item,
    l.pool_admdvs,
    l.psn_no,
    l.pay_status,
    l.payment_rows,
    l.other_nodes,
    CAST(p.duplicate_months AS INTEGER) AS duplicate_months,
    p.first_period,
    p.last_period,
    CAST(p.person_amount AS DECIMAL(18,2)) AS person_amount
FROM line l
JOIN person p USING (token)
WHERE l.amount > 0
ORDER BY l.id_no, l.period
