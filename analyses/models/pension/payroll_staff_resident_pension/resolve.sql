-- pension.payroll_staff_resident_pension at a province node, after the return: re-identifies
-- the province's own returned tokens and lists, per person, each month of the audit window in
-- which the net resident pension (scheme 170) was above zero while the person was on the
-- public payroll as serving or retired staff of a staffing type other than 50. One case line
-- per month; its amount is the resident pension of the month, the amount to recover. The
-- payroll columns describe the month's qualifying payroll rows (several employers are listed
-- comma-separated); staff_class is contract_staff when they are all 编外聘用 (type 40), who
-- belong in the employee scheme, else on_establishment.
WITH resident AS (
    SELECT
        id_no,
        id_status,
        period,
        sum(amount) AS resident_net,
        string_agg(DISTINCT psn_no, ',' ORDER BY psn_no) AS psn_no,
        string_agg(DISTINCT pool_admdvs, ',' ORDER BY pool_admdvs) AS pool_admdvs
    FROM benefit_payment
    WHERE scheme_code = '170'
      AND benefit_item IN ('0101', '0102', '0103')
      AND period BETWEEN $period_start AND $period_end
    GROUP BY id_no, id_status, period
    HAVING sum(amount) > 0
),
payroll AS (
    SELECT
        id_no,
        period,
        string_agg(DISTINCT employer_code, ',' ORDER BY employer_code) AS employer_code,
        string_agg(DISTINCT employer_name, ',' ORDER BY employer_name) AS employer_name,
        string_agg(DISTINCT staffing_type, ',' ORDER BY staffing_type) AS staffing_type,
        string_agg(DISTINCT status, ',' ORDER BY status) AS payroll_status,
        sum(gross_pay) AS gross_pay,
        bool_and(staffing_type = '40') AS contract_only
    FROM public_payroll
    WHERE status IN ('1', '2')
      AND staffing_type <> '50'
      AND period BETWEEN $period_start AND $period_end
    GROUP BY id_no, period
),
month AS (
    SELECT r.*, p.employer_code, p.employer_name, p.staffing_type, p.payroll_status,
           p.gross_pay, p.contract_only
    FROM resident r
    JOIN payroll p USING (id_no, period)
),
person AS (
    SELECT
        t.token,
        m.id_no,
        m.id_status,
        count(*) AS months,
        min(m.period) AS first_period,
        max(m.period) AS last_period,
        sum(m.resident_net) AS person_amount
    FROM month m
    JOIN (SELECT DISTINCT id_no, id_status, fa_token(id_no, id_status) AS token
          FROM month) t USING (id_no, id_status)
    JOIN (SELECT DISTINCT token FROM returned) r USING (token)
    GROUP BY t.token, m.id_no, m.id_status
    HAVING count(*) >= $min_months
)
SELECT
    p.token,
    m.id_no AS subject_id,
    CAST(NULL AS VARCHAR) AS subject_name,
    CAST(m.resident_net AS DECIMAL(18,2)) AS amount,
    m.period,
    m.employer_code,
    m.employer_name,
    m.staffing_type,
    m.payroll_status,
    CAST(m.gross_pay AS DECIMAL(18,2)) AS gross_pay,
    CASE WHEN m.contract_only THEN 'contract_staff' ELSE 'on_establishment' END AS staff_class,
    m.psn_no,
    m.pool_admdvs,
    CAST(p.months AS INTEGER) AS months,
    p.first_period,
    p.last_period,
    CAST(p.person_amount AS DECIMAL(18,2)) AS person_amount
FROM month m
JOIN person p USING (id_no, id_status)
ORDER BY m.id_no, m.period
