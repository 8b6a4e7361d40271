-- medical.overlapping_stays_cross_province at a province node: one row per person and night
-- spent in one of this province's inpatient stays (med_type 21/22/52, not reversed) inside
-- the audit window. The nights of a stay run from begin_date to the day before end_date (a
-- stay without end_date ends on its settlement date), so a transfer on the day of discharge
-- shares no night with the next stay. Only the token and the date leave; invalid ID numbers
-- give no token and no row.
WITH stay AS (
    SELECT
        fa_token(id_no, id_status) AS token,
        greatest(begin_date, $period_start) AS first_night,
        least(coalesce(end_date, CAST(setl_time AS DATE)),
              CAST($period_end + INTERVAL 1 MONTH AS DATE)) AS night_end
    FROM med_settlement
    WHERE med_type IN ('21', '22', '52')
      AND NOT coalesce(refund_flag, false)
),
night AS (
    SELECT token, first_night + CAST(unnest(range(date_diff('day', first_night, night_end)))
                                     AS INTEGER) AS stay_day
    FROM stay
    WHERE token IS NOT NULL
      AND night_end > first_night
)
SELECT DISTINCT token, stay_day
FROM night
ORDER BY token, stay_day
