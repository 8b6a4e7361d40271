-- unemployment.benefit_while_employed at a province node: the token of every person paid
-- unemployment benefit (失业保险金: scheme 210, item 0201) for a month of the audit window in
-- which an employer paid the person's normal contributions (contrib_type 10 with an
-- employer: re-employed, 重新就业) or the person drew a basic pension (享受基本养老保险待遇).
-- One row per flagged person; the ID number is only tokenised, never selected, and invalid
-- ID numbers give no token and no row.
--
-- Months count by their net amount (a 追回 row with a negative amount cancels the payment
-- it recovers). A benefit spell is a run of consecutive benefit months; a contribution in
-- one of the first $grace_months months of a spell is the old job's final month (the
-- employer pays the month in which the contract ended), not re-employment. Spells are
-- found over all benefit months, so a spell that began before the window keeps its start.
-- Self-paid contributions (灵活就业, type 30, no employer) are lawful and never read.
WITH benefit AS (
    SELECT id_no, id_status, period
    FROM benefit_payment
    WHERE scheme_code = '210'
      AND benefit_item = '0201'
    GROUP BY id_no, id_status, period
    HAVING sum(amount) > 0
),
spell AS (
    SELECT
        id_no,
        id_status,
        period,
        date_diff('month', DATE '1900-01-01', period)
            - row_number() OVER (PARTITION BY id_no ORDER BY period) AS spell_key
    FROM benefit
),
benefit_month AS (
    SELECT
        id_no,
        id_status,
        period,
        date_diff('month', min(period) OVER (PARTITION BY id_no, spell_key), period) + 1
            AS month_of_spell
    FROM spell
),
employment AS (
    SELECT DISTINCT id_no, period
    FROM contribution
    WHERE contrib_type = '10'
      AND employer_id IS NOT NULL
),
pension AS (
    SELECT id_no, period
    FROM benefit_payment
    WHERE scheme_code IN ('110', '120', '170')
      AND benefit_item IN ('0101', '0102', '0103')
    GROUP BY id_no, period
    HAVING sum(amount) > 0
),
flagged AS (
    SELECT DISTINCT fa_token(b.id_no, b.id_status) AS token
    FROM benefit_month b
    LEFT JOIN employment e ON e.id_no = b.id_no AND e.period = b.period
    LEFT JOIN pension p ON p.id_no = b.id_no AND p.period = b.period
    WHERE b.period BETWEEN $period_start AND $period_end
      AND ((e.id_no IS NOT NULL AND b.month_of_spell > $grace_months) OR p.id_no IS NOT NULL)
)
SELECT token
FROM flagged
WHERE token IS NOT NULL
ORDER BY token
