-- assistance.household_assets at a province node: the token of every active member (status
-- 1 在保) of an assistance case of the selected programmes (default 01 城市低保, 02 农村低保,
-- 03 特困供养). Members who left the case (status 2 停保, 3 退出) are not sent: a relative
-- who moved out is no longer in the household whose means are assessed. The asset columns
-- are the registries' attributes, so a province returns them as typed NULLs. Invalid ID
-- numbers give no token and no row; the ID number itself never leaves the node.
SELECT DISTINCT
    token,
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
    CAST(NULL AS DOUBLE) AS share_ratio
FROM (
    SELECT fa_token(id_no, id_status) AS token
    FROM assistance_member
    WHERE status = '1'
      AND list_contains(list_filter(string_split(replace($programs, ' ', ''), ','),
                                    lambda c: c <> ''), program)
)
WHERE token IS NOT NULL
ORDER BY token
