-- pension.early_retirement at a province node, after the return: re-identifies the
-- province's own returned tokens and lists each flagged retirement, one case line per person
-- and scheme (the earliest retirement of the scheme when the person has several rows). The
-- rule is the node SQL's; the reason is the first that applies: RES_UNDER_60 (resident
-- pension before $resident_pension_age), BELOW_STATUTORY_AGE (below the minimum age of the
-- retirement type), WORK_START_BEFORE_16 (work start before $min_work_age); the codes name the
-- rule at its default ages. The amount is the net basic pension (items 0101/0102/0103,
-- recoveries included) of that scheme paid for months of the audit window. The employer
-- columns show clusters locally (PEN-06b): employer_cases counts the persons this rule flags
-- at the same employer in the province (also those whose invalid ID opens no case),
-- employer_retirees the employer's retirements in the window (schemes 110/120) and
-- employer_early_retirements those of an early type (20/30/40).
WITH retiree AS (
    SELECT
        id_no,
        id_status,
        name,
        gender,
        scheme_code,
        pool_admdvs,
        psn_no,
        employer_id,
        employer_uscc,
        retire_type,
        retire_date,
        work_start_date,
        coalesce(birth_date, CASE WHEN id_status IN ('valid', 'upgraded')
            THEN CAST(try_strptime(substr(id_no, 7, 8), '%Y%m%d') AS DATE) END) AS birth,
        CASE
            WHEN gender = '1' THEN true
            WHEN gender = '2' THEN false
            WHEN id_status IN ('valid', 'upgraded') THEN CAST(substr(id_no, 17, 1) AS INTEGER) % 2 = 1
        END AS male
    FROM insured_person
    WHERE retire_flag
      AND scheme_code IN ('110', '120', '170')
      AND retire_date BETWEEN $retired_from AND $retired_to
),
aged AS (
    SELECT
        *,
        date_sub('month', birth, retire_date) AS retire_age_months,
        date_sub('month', birth, work_start_date) AS work_start_age_months,
        12 * CASE
            WHEN scheme_code = '170' THEN $resident_pension_age
            WHEN retire_type = '20' THEN CASE WHEN male THEN $male_special_age ELSE $female_special_age END
            WHEN retire_type = '30' THEN CASE WHEN male THEN $male_illness_age ELSE $female_illness_age END
            WHEN retire_type = '40' THEN CASE WHEN male THEN $male_other_age ELSE $female_other_age END
            ELSE CASE WHEN male THEN $male_normal_age ELSE $female_normal_age END
        END AS floor_months
    FROM retiree
    WHERE birth IS NOT NULL
),
flagged AS (
    SELECT
        *,
        CASE
            WHEN scheme_code = '170' AND retire_age_months < floor_months THEN 'RES_UNDER_60'
            WHEN retire_age_months < floor_months THEN 'BELOW_STATUTORY_AGE'
            ELSE 'WORK_START_BEFORE_16'
        END AS reason
    FROM aged
    WHERE retire_age_months < floor_months
       OR work_start_age_months < 12 * $min_work_age
),
employer AS (
    SELECT
        employer_id,
        count(DISTINCT id_no) AS employer_retirees,
        count(DISTINCT id_no) FILTER (WHERE retire_type IN ('20', '30', '40'))
            AS employer_early_retirements
    FROM retiree
    WHERE scheme_code IN ('110', '120') AND employer_id IS NOT NULL
    GROUP BY employer_id
),
cluster AS (
    SELECT employer_id, count(DISTINCT id_no) AS employer_cases
    FROM flagged
    WHERE employer_id IS NOT NULL
    GROUP BY employer_id
),
token AS (
    SELECT t.id_no, t.id_status, t.token
    FROM (SELECT DISTINCT id_no, id_status, fa_token(id_no, id_status) AS token
          FROM flagged) t
    JOIN (SELECT DISTINCT token FROM returned) r USING (token)
),
line AS (
    SELECT f.*, t.token
    FROM flagged f
    JOIN token t USING (id_no, id_status)
    QUALIFY row_number() OVER (PARTITION BY f.id_no, f.scheme_code
                               ORDER BY f.retire_date, f.pool_admdvs, f.psn_no) = 1
),
pension_month AS (
    SELECT b.id_no, b.scheme_code, b.period, sum(b.amount) AS net
    FROM benefit_payment b
    JOIN (SELECT DISTINCT id_no, scheme_code FROM line) l USING (id_no, scheme_code)
    WHERE b.benefit_item IN ('0101', '0102', '0103')
      AND b.period BETWEEN $period_start AND $period_end
    GROUP BY b.id_no, b.scheme_code, b.period
),
pension AS (
    SELECT id_no, scheme_code, sum(net) AS amount, count(*) FILTER (WHERE net > 0) AS months
    FROM pension_month
    GROUP BY id_no, scheme_code
)
SELECT
    l.token,
    l.id_no AS subject_id,
    l.name AS subject_name,
    CAST(coalesce(p.amount, 0) AS DECIMAL(18,2)) AS amount,
    l.reason,
    l.scheme_code,
    l.retire_type,
    l.retire_date,
    l.gender,
    l.birth AS birth_date,
    CAST(l.retire_age_months AS INTEGER) AS retire_age_months,
    CAST(l.floor_months AS INTEGER) AS min_age_months,
    l.work_start_date,
    CAST(l.work_start_age_months AS INTEGER) AS work_start_age_months,
    CAST(coalesce(p.months, 0) AS INTEGER) AS pension_months,
    l.pool_admdvs,
    l.psn_no,
    l.employer_id,
    l.employer_uscc,
    CAST(c.employer_cases AS INTEGER) AS employer_cases,
    CAST(e.employer_retirees AS INTEGER) AS employer_retirees,
    CAST(e.employer_early_retirements AS INTEGER) AS employer_early_retirements
FROM line l
LEFT JOIN pension p USING (id_no, scheme_code)
LEFT JOIN cluster c USING (employer_id)
LEFT JOIN employer e USING (employer_id)
ORDER BY l.employer_id NULLS LAST, l.id_no, l.scheme_code
