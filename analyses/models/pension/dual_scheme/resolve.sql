-- pension.dual_scheme at a province node, after the return: re-identifies the province's own
-- returned tokens and lists, per person, each month of the audit window in which the net
-- resident pension (scheme 170) and the net employee or civil-service pension (110/120) were
-- both above zero. One case line per month; its amount is the resident pension of the month,
-- the amount to recover (人社部发〔2014〕17号). Basic pension items only (0101/0102/0103);
-- recovery rows net out the payments they recover.
WITH month AS (
    SELECT
        id_no,
        id_status,
        period,
        sum(amount) FILTER (WHERE scheme_code = '170') AS resident_net,
        sum(amount) FILTER (WHERE scheme_code IN ('110', '120')) AS employee_net,
        string_agg(DISTINCT scheme_code, ',' ORDER BY scheme_code)
            FILTER (WHERE scheme_code IN ('110', '120')) AS employee_scheme,
        string_agg(DISTINCT psn_no, ',' ORDER BY psn_no) AS psn_no,
        string_agg(DISTINCT pool_admdvs, ',' ORDER BY pool_admdvs) AS pool_admdvs,
        string_agg(DISTINCT pay_status, ',' ORDER BY pay_status) AS pay_status
    FROM benefit_payment
    WHERE scheme_code IN ('110', '120', '170')
      AND benefit_item IN ('0101', '0102', '0103')
      AND period BETWEEN $period_start AND $period_end
    GROUP BY id_no, id_status, period
),
overlap AS (
    SELECT *
    FROM month
    WHERE resident_net > 0 AND employee_net > 0
),
person AS (
    SELECT
        p.token,
        o.id_no,
        o.id_status,
        count(*) AS overlap_months,
        min(o.period) AS first_period,
        max(o.period) AS last_period,
        sum(o.resident_net) AS person_amount
    FROM overlap o
    JOIN (SELECT DISTINCT id_no, id_status, fa_token(id_no, id_status) AS token
          FROM overlap) p USING (id_no, id_status)
    JOIN (SELECT DISTINCT token FROM returned) r USING (token)
    GROUP BY p.token, o.id_no, o.id_status
    HAVING count(*) >= $min_months
)
SELECT
    p.token,
    o.id_no AS subject_id,
    CAST(NULL AS VARCHAR) AS subject_name,
    CAST(o.resident_net AS DECIMAL(18,2)) AS amount,
    o.period,
    o.employee_scheme,
    CAST(o.employee_net AS DECIMAL(18,2)) AS employee_amount,
    o.psn_no,
    o.pool_admdvs,
    o.pay_status,
    CAST(p.overlap_months AS INTEGER) AS overlap_months,
    p.first_period,
    p.last_period,
    CAST(p.person_amount AS DECIMAL(18,2)) AS person_amount
FROM overlap o
JOIN person p USING (id_no, id_status)
ORDER BY o.id_no, o.period
