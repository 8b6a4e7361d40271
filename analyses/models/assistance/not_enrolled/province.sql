-- assistance.not_enrolled at a province node: active assistance recipients of the target age
-- band, students left out, and those of them with no basic pension enrolment (110/120/170)
-- at this node nor, when the task names an earlier assistance.enrolled_elsewhere task, at
-- any other node (its return: the table returned, tokens under that task's key), per region
-- and programme plus a per-region total over the programmes. ID numbers are only joined,
-- grouped and counted, never selected.
WITH member AS (
    SELECT
        id_no,
        id_status,
        program,
        relation,
        rpad(left(admdvs, CASE $region_level WHEN 'province' THEN 2 WHEN 'city' THEN 4
                                             ELSE 6 END), 6, '0') AS region,
        date_sub('year',
                 coalesce(birth_date, CAST(try_strptime(substr(id_no, 7, 8), '%Y%m%d') AS DATE)),
                 $as_of) AS age
    FROM assistance_member
    WHERE status = '1'
      AND list_contains(string_split(replace($programs, ' ', ''), ','), program)
),
in_band AS (
    SELECT * FROM member WHERE age BETWEEN $min_age AND $max_age
),
student AS (
    -- A person is a student when any of their rows names them a child of student age.
    SELECT DISTINCT id_no FROM in_band WHERE relation = '03' AND age <= $student_max_age
),
target AS (
    SELECT DISTINCT region, program, id_no, id_status
    FROM in_band
    WHERE NOT EXISTS (SELECT 1 FROM student s WHERE s.id_no = in_band.id_no)
),
flagged AS (
    SELECT
        t.region,
        t.program,
        t.id_no,
        NOT EXISTS (SELECT 1 FROM insured_person i
                    WHERE i.id_no = t.id_no AND i.scheme_code IN ('110', '120', '170'))
        AND NOT EXISTS (SELECT 1 FROM returned r
                        WHERE r.token = fa_token(t.id_no, t.id_status))
            AS not_enrolled
    FROM target t
)
SELECT
    region,
    program,
    count(DISTINCT id_no) AS target_persons,
    count(DISTINCT id_no) FILTER (WHERE not_enrolled) AS not_enrolled,
    round(100.0 * count(DISTINCT id_no) FILTER (WHERE not_enrolled)
          / count(DISTINCT id_no), 2) AS not_enrolled_pct
FROM flagged
GROUP BY GROUPING SETS ((region, program), (region))
ORDER BY region, program NULLS LAST
