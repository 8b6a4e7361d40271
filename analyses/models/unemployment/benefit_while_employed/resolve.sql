-- unemployment.benefit_while_employed at a province node, after the coordinator handed the
-- node back its own tokens: re-identifies them and lists one line per flagged benefit month
-- of the audit window, with its net unemployment benefit (scheme 210, item 0201) as the
-- amount at stake. The rule is the node SQL's: a month is flagged EMPLOYED when an employer
-- paid normal contributions (contrib_type 10) for it and it is not one of the first
-- $grace_months months of its benefit spell, RECEIVING_PENSION when the person's net basic
-- pension (110/120/170, items 0101/0102/0103) of the month is above zero, or both. Each
-- month counts once, whatever its reasons. One case per person.
WITH benefit AS (
    SELECT
        id_no,
        id_status,
        period,
        sum(amount) AS amount,
        string_agg(DISTINCT psn_no, ',' ORDER BY psn_no) AS psn_no,
        string_agg(DISTINCT pool_admdvs, ',' ORDER BY pool_admdvs) AS pool_admdvs,
        string_agg(DISTINCT pay_status, ',' ORDER BY pay_status) AS pay_status,
        count(*) AS payment_rows
    FROM benefit_payment
    WHERE scheme_code = '210'
      AND benefit_item = '0201'
    GROUP BY id_no, id_status, period
    HAVING sum(amount) > 0
),
spell AS (
    SELECT
        *,
        date_diff('month', DATE '1900-01-01', period)
            - row_number() OVER (PARTITION BY id_no ORDER BY period) AS spell_key
    FROM benefit
),
benefit_month AS (
    SELECT
        *,
        min(period) OVER (PARTITION BY id_no, spell_key) AS spell_start
    FROM spell
),
employment AS (
    SELECT id_no, period, string_agg(DISTINCT employer_id, ',' ORDER BY employer_id) AS employer_ids
    FROM contribution
    WHERE contrib_type = '10'
      AND employer_id IS NOT NULL
    GROUP BY id_no, period
),
pension AS (
    SELECT
        id_no,
        period,
        sum(amount) AS pension_amount,
        string_agg(DISTINCT scheme_code, ',' ORDER BY scheme_code) AS pension_schemes
    FROM benefit_payment
    WHERE scheme_code IN ('110', '120', '170')
      AND benefit_item IN ('0101', '0102', '0103')
    GROUP BY id_no, period
    HAVING sum(amount) > 0
),
checked AS (
    SELECT
        r.token,
        b.*,
        date_diff('month', b.spell_start, b.period) + 1 AS month_of_spell,
        e.employer_ids,
        p.pension_amount,
        p.pension_schemes,
        e.id_no IS NOT NULL AND date_diff('month', b.spell_start, b.period) + 1 > $grace_months
            AS employed,
        p.id_no IS NOT NULL AS receiving_pension
    FROM benefit_month b
    JOIN (SELECT DISTINCT token FROM returned) r ON fa_token(b.id_no, b.id_status) = r.token
    LEFT JOIN employment e ON e.id_no = b.id_no AND e.period = b.period
    LEFT JOIN pension p ON p.id_no = b.id_no AND p.period = b.period
    WHERE b.period BETWEEN $period_start AND $period_end
),
line AS (
    SELECT *
    FROM checked
    WHERE employed OR receiving_pension
),
person AS (
    SELECT
        token,
        count(*) AS months_flagged,
        min(period) AS first_period,
        max(period) AS last_period,
        sum(amount) AS amount
    FROM line
    GROUP BY token
)
SELECT
    l.token,
    l.id_no AS subject_id,
    CAST(NULL AS VARCHAR) AS subject_name,
    CAST(l.amount AS DECIMAL(18,2)) AS amount,
    l.period,
    CASE
        WHEN l.employed AND l.receiving_pension THEN 'EMPLOYED+RECEIVING_PENSION'
        WHEN l.employed THEN 'EMPLOYED'
        ELSE 'RECEIVING_PENSION'
    END AS reason,
    CASE WHEN l.employed THEN l.employer_ids END AS employer_ids,
    CAST(l.pension_amount AS DECIMAL(18,2)) AS pension_amount,
    l.pension_schemes,
    l.spell_start,
    CAST(l.month_of_spell AS INTEGER) AS month_of_spell,
    l.pool_admdvs,
    l.psn_no,
    l.pay_status,
    CAST(l.payment_rows AS INTEGER) AS payment_rows,
    CAST(p.months_flagged AS INTEGER) AS months_flagged,
    p.first_period,
    p.last_period,
    CAST(p.amount AS DECIMAL(18,2)) AS person_amount
FROM line l
JOIN person p USING (token)
ORDER BY l.id_no, l.period
