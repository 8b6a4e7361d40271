-- assistance.household_assets at a registry node (公安交管, 不动产登记, 市场监管): one row per
-- asset currently recorded to a person whose ID number can be tokenised: vehicles not
-- cancelled (cancel_date empty), real-estate rights not cancelled or transferred, and roles in
-- businesses that have not ended (role end_date and the entity's cancel_date empty). The
-- three sources are stacked (UNION ALL BY NAME: each fills its own columns, the others stay
-- NULL). A registry node holds some of the three registers only; the others read as empty
-- tables, so every registry runs this same SQL. The rules (which vehicles, dwellings and
-- roles count, and the household thresholds) are applied at the province after the join:
-- this node sends what its register holds, sealed, and the coordinator never reads it. The
-- ID number is only tokenised, never selected; invalid IDs give no token and no row.
WITH vehicle AS (
    SELECT
        fa_token(owner_id_no, id_status) AS token,
        'vehicle' AS asset_type,
        vehicle_key AS asset_ref,
        status,
        first_reg_date AS since,
        reg_admdvs AS region,
        plate_type,
        vehicle_type,
        use_nature,
        est_value
    FROM vehicle_registration
    WHERE cancel_date IS NULL
),
real_estate AS (
    SELECT
        fa_token(owner_id_no, id_status) AS token,
        'real_estate' AS asset_type,
        unit_no AS asset_ref,
        reg_date AS since,
        location_admdvs AS region,
        usage,
        right_type,
        share_type,
        floor_area
    FROM real_estate_right
    WHERE cancel_date IS NULL
),
business AS (
    SELECT
        fa_token(p.id_no, p.id_status) AS token,
        'business' AS asset_type,
        p.uscc AS asset_ref,
        e.status,
        coalesce(p.start_date, e.est_date) AS since,
        e.reg_admdvs AS region,
        p.role,
        e.entity_type,
        e.entity_name,
        e.reg_capital,
        p.share_ratio
    FROM business_person p
    JOIN business_entity e USING (uscc)
    WHERE p.end_date IS NULL
      AND e.cancel_date IS NULL
),
asset AS (
    SELECT * FROM vehicle
    UNION ALL BY NAME
    SELECT * FROM real_estate
    UNION ALL BY NAME
    SELECT * FROM business
)
SELECT
    token,
    CAST(asset_type AS VARCHAR) AS asset_type,
    CAST(asset_ref AS VARCHAR) AS asset_ref,
    CAST(status AS VARCHAR) AS status,
    CAST(since AS DATE) AS since,
    CAST(region AS VARCHAR) AS region,
    CAST(plate_type AS VARCHAR) AS plate_type,
    CAST(vehicle_type AS VARCHAR) AS vehicle_type,
    CAST(use_nature AS VARCHAR) AS use_nature,
    CAST(est_value AS DECIMAL(14,2)) AS est_value,
    CAST(usage AS VARCHAR) AS usage,
    CAST(right_type AS VARCHAR) AS right_type,
    CAST(share_type AS VARCHAR) AS share_type,
    CAST(floor_area AS DECIMAL(14,2)) AS floor_area,
    CAST(role AS VARCHAR) AS role,
    CAST(entity_type AS VARCHAR) AS entity_type,
    CAST(entity_name AS VARCHAR) AS entity_name,
    CAST(reg_capital AS DECIMAL(14,2)) AS reg_capital,
    CAST(share_ratio AS DOUBLE) AS share_ratio
FROM asset
WHERE token IS NOT NULL
ORDER BY token, asset_type, asset_ref, role
