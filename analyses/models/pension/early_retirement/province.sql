-- pension.early_retirement at a province node: one row per retired person with a retirement
-- (insured_person with retire_flag, schemes 110/120/170, retire_date in the window) that
-- breaks an age rule: a resident pension started before $resident_pension_age; an employee or
-- civil-service retirement before the minimum age of its retirement type (10 normal, 20 special
-- work, 30 illness, 40 other early; none or an unknown type is held to the normal age) and
-- gender; or work recorded as starting before $min_work_age. Ages are completed months
-- (date_sub), from birth_date or, when it is empty, the birth date in a valid ID number; the
-- gender comes from the gender column or else the ID number, and when neither tells, the
-- lower, women's age applies. Only flagged persons are tokenised; invalid ID numbers give no
-- token and no row, and the ID never leaves the node.
WITH retiree AS (
    SELECT
        id_no,
        id_status,
        scheme_code,
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
    SELECT id_no, id_status
    FROM aged
    WHERE retire_age_months < floor_months
       OR work_start_age_months < 12 * $min_work_age
)
SELECT DISTINCT token
FROM (SELECT fa_token(id_no, id_status) AS token FROM flagged)
WHERE token IS NOT NULL
ORDER BY token
