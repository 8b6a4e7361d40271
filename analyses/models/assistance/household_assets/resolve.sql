-- assistance.household_assets at a province node, after the blind join: re-identifies the
-- returned tokens (active members whom a registry lists with a current asset), keeps the
-- assets that count and groups them by household (the assistance case):
--   cars         distinct vehicles with status A (正常) whose vehicle_type does not start
--                with an exempt prefix ($exempt_vehicle_types, default M: motorcycles and
--                the disabled's motorised wheelchairs) and whose plate is not exempt
--                ($exempt_plate_types, default 07/08 motorcycle plates);
--   house_units  distinct real-estate units of the usages $house_usages (default 10 住宅,
--                20 商业) held by any member, a unit co-owned by two members counted once;
--   businesses   distinct businesses with status 01 (存续) in which a member holds a role of
--                $business_roles (default 01 法定代表人, 02 股东, 03 个体经营者).
-- A household is flagged when cars > 0, house_units > $max_house_units or businesses > 0.
-- One case per household: every line carries the same token (the smallest token of a member
-- in no other flagged household, else the smallest), subject_id is the case_id and
-- subject_name the head's name. Lines: one per payment programme (amount = the household's
-- payments of the window, the amount at stake), then one per counted asset and member
-- (amount 0.00), each with the household's tallies.
WITH setting AS (
    -- The comma-separated code lists of the parameters, as lists (blanks ignored).
    SELECT
        list_filter(string_split(replace($programs, ' ', ''), ','), lambda c: c <> '')
            AS programs,
        list_filter(string_split(replace($exempt_vehicle_types, ' ', ''), ','),
                    lambda c: c <> '') AS exempt_types,
        list_filter(string_split(replace($exempt_plate_types, ' ', ''), ','),
                    lambda c: c <> '') AS exempt_plates,
        list_filter(string_split(replace($house_usages, ' ', ''), ','), lambda c: c <> '')
            AS usages,
        list_filter(string_split(replace($business_roles, ' ', ''), ','), lambda c: c <> '')
            AS roles
),
member AS (
    SELECT
        case_id,
        fa_token(id_no, id_status) AS token,
        id_no,
        name,
        relation,
        program,
        admdvs
    FROM assistance_member, setting
    WHERE status = '1'
      AND list_contains(setting.programs, program)
),
asset AS (
    SELECT r.*
    FROM returned r, setting s
    WHERE (r.asset_type = 'vehicle' AND r.status = 'A'
           AND NOT list_contains(s.exempt_plates, coalesce(r.plate_type, ''))
           AND len(list_filter(s.exempt_types,
                               lambda t: starts_with(coalesce(r.vehicle_type, ''), t))) = 0)
       OR (r.asset_type = 'real_estate' AND list_contains(s.usages, r.usage))
       OR (r.asset_type = 'business' AND r.status = '01' AND list_contains(s.roles, r.role))
),
held AS (
    SELECT DISTINCT
        m.case_id,
        m.token,
        m.id_no,
        m.name,
        m.relation,
        a.* EXCLUDE (token)
    FROM member m
    JOIN asset a ON a.token = m.token
),
tally AS (
    SELECT
        case_id,
        count(DISTINCT asset_ref) FILTER (WHERE asset_type = 'vehicle') AS cars,
        count(DISTINCT asset_ref) FILTER (WHERE asset_type = 'real_estate') AS house_units,
        count(DISTINCT asset_ref) FILTER (WHERE asset_type = 'business') AS businesses
    FROM held
    GROUP BY case_id
),
flagged AS (
    SELECT
        *,
        concat_ws('+', CASE WHEN cars > 0 THEN 'CAR' END,
                       CASE WHEN house_units > $max_house_units THEN 'HOUSES' END,
                       CASE WHEN businesses > 0 THEN 'BUSINESS' END) AS reasons
    FROM tally
    WHERE cars > 0 OR house_units > $max_house_units OR businesses > 0
),
candidate AS (
    -- Members of flagged households whose tokens came back, and in how many flagged
    -- households each of them is active (a person active in two cases is a finding too).
    SELECT
        f.case_id,
        m.token,
        count(DISTINCT f.case_id) OVER (PARTITION BY m.token) AS households
    FROM flagged f
    JOIN (SELECT DISTINCT case_id, token FROM member) m USING (case_id)
    WHERE m.token IN (SELECT token FROM returned)
),
case_token AS (
    SELECT case_id,
           coalesce(min(token) FILTER (WHERE households = 1), min(token)) AS token
    FROM candidate
    GROUP BY case_id
),
household AS (
    SELECT
        f.*,
        t.token,
        (SELECT min(admdvs) FROM member m WHERE m.case_id = f.case_id) AS admdvs,
        (SELECT string_agg(DISTINCT program, ',' ORDER BY program) FROM member m
         WHERE m.case_id = f.case_id) AS case_program,
        (SELECT count(DISTINCT id_no) FROM member m WHERE m.case_id = f.case_id) AS members,
        (SELECT min(a.name ORDER BY a.status, a.name) FROM assistance_member a
         WHERE a.case_id = f.case_id AND a.relation = '01') AS head_name
    FROM flagged f
    JOIN case_token t USING (case_id)
),
paid AS (
    SELECT
        case_id,
        program,
        min(period) AS first_period,
        max(period) AS last_period,
        count(DISTINCT period) AS months,
        count(*) AS payment_rows,
        sum(amount) AS amount
    FROM assistance_payment
    WHERE case_id IN (SELECT case_id FROM flagged)
      AND list_contains((SELECT programs FROM setting), program)
      AND period BETWEEN $period_start AND $period_end
    GROUP BY case_id, program
),
line AS (
    SELECT
        case_id,
        0 AS line_order,
        'payment' AS line_kind,
        amount,
        CAST(NULL AS VARCHAR) AS member_id_no,
        CAST(NULL AS VARCHAR) AS member_name,
        CAST(NULL AS VARCHAR) AS relation,
        CAST(NULL AS VARCHAR) AS asset_type,
        CAST(NULL AS VARCHAR) AS asset_ref,
        CAST(NULL AS VARCHAR) AS status,
        CAST(NULL AS DATE) AS since,
        CAST(NULL AS VARCHAR) AS region,
        CAST(NULL AS VARCHAR) AS plate_type,
        CAST(NULL AS VARCHAR) AS vehicle_type,
        CAST(NULL AS VARCHAR) AS use_nature,
        CAST(NULL AS DECIMAL(14,2)) AS est_value,
        CAST(NULL AS VARCHAR) AS usage,
        CAST(NULL AS VARCHAR) AS right_type,
        CAST(NULL AS VARCHAR) AS share_type,
        CAST(NULL AS DECIMAL(14,2)) AS floor_area,
        CAST(NULL AS VARCHAR) AS role,
        CAST(NULL AS VARCHAR) AS entity_type,
        CAST(NULL AS VARCHAR) AS entity_name,
        CAST(NULL AS DECIMAL(14,2)) AS reg_capital,
        CAST(NULL AS DOUBLE) AS share_ratio,
        program AS pay_program,
        first_period,
        last_period,
        CAST(months AS INTEGER) AS months,
        CAST(payment_rows AS INTEGER) AS payment_rows
    FROM paid
    UNION ALL
    SELECT
        case_id,
        1 AS line_order,
        'asset' AS line_kind,
        0 AS amount,
        id_no AS member_id_no,
        name AS member_name,
        relation,
        asset_type,
        asset_ref,
        status,
        since,
        region,
        plate_type,
        vehicle_type,
        use_nature,
        est_value,
        usage,
        right_type,
        share_type,
        floor_area,
        role,
        entity_type,
        entity_name,
        reg_capital,
        share_ratio,
        NULL AS pay_program,
        NULL AS first_period,
        NULL AS last_period,
        NULL AS months,
        NULL AS payment_rows
    FROM held
    WHERE case_id IN (SELECT case_id FROM flagged)
)
SELECT
    h.token,
    h.case_id AS subject_id,
    h.head_name AS subject_name,
    CAST(l.amount AS DECIMAL(18,2)) AS amount,
    l.line_kind,
    l.member_id_no,
    l.member_name,
    l.relation,
    l.asset_type,
    l.asset_ref,
    l.status,
    l.since,
    l.region,
    l.plate_type,
    l.vehicle_type,
    l.use_nature,
    l.est_value,
    l.usage,
    l.right_type,
    l.share_type,
    l.floor_area,
    l.role,
    l.entity_type,
    l.entity_name,
    l.reg_capital,
    l.share_ratio,
    l.pay_program,
    l.first_period,
    l.last_period,
    l.months,
    l.payment_rows,
    h.admdvs,
    h.case_program,
    CAST(h.members AS INTEGER) AS members,
    CAST(h.cars AS INTEGER) AS cars,
    CAST(h.house_units AS INTEGER) AS house_units,
    CAST(h.businesses AS INTEGER) AS businesses,
    h.reasons,
    CAST(coalesce((SELECT sum(p.amount) FROM paid p WHERE p.case_id = h.case_id), 0)
         AS DECIMAL(18,2)) AS household_amount
FROM household h
JOIN line l USING (case_id)
ORDER BY h.case_id, l.line_order, l.asset_type, l.asset_ref, l.member_id_no, l.role
