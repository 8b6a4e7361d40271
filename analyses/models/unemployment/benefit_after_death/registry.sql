-- unemployment.benefit_after_death at the registry node (death register): one row per dead
-- person whose ID number can be tokenised, with the earliest death date of all their death
-- notices (公安户籍注销, 民政火化, 卫健死亡医学证明, 法院宣告死亡). Persons who died after the
-- audit window cannot have been paid after death inside it, so they are left out. The ID
-- number is only tokenised, never selected; invalid IDs give no token and no row.
WITH person AS (
    SELECT fa_token(id_no, id_status) AS token, min(death_date) AS death_date
    FROM death_record
    GROUP BY ALL
)
SELECT token, death_date
FROM person
WHERE token IS NOT NULL
  AND death_date < $period_end + INTERVAL 1 MONTH
ORDER BY token
