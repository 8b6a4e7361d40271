-- medical.institution_profile at HQ: compares every institution-year with its peers and
-- sorts it into a profile class (多维分析, 聚类分类).
-- Peers share the hospital level and year and, with peer_scope 'province', the node
-- (region); with 'national' they span every node. For each KPI the robust z-score is
-- (value - median) / greatest(1.4826 * MAD, floor_share * median) over the released peers
-- (suppressed rows carry no KPI and take no part); the readmission rate also has an
-- absolute floor, rate_floor, because its median is usually 0. A row is an outlier when
-- at least min_kpis of the four flag KPIs (cost per stay, length of stay, readmission rate,
-- stays per patient) lie beyond z_threshold in either direction; fund per stay moves with
-- cost per stay and only helps name the class. Rows suppressed by their node, and rows
-- with fewer than min_peers released peers, get no z-score, no flag and their own class.
WITH kpi AS (
    SELECT
        *,
        CAST(avg_ipt_cost AS DOUBLE) AS cost,
        CAST(avg_fund_per_stay AS DOUBLE) AS fund,
        CASE WHEN $peer_scope = 'province' THEN node_id END AS scope
    FROM partials
), stats AS (
    SELECT
        *,
        count(cost) OVER p AS n_peers,
        median(cost) OVER p AS m_cost,
        mad(cost) OVER p AS d_cost,
        median(fund) OVER p AS m_fund,
        mad(fund) OVER p AS d_fund,
        median(avg_los) OVER p AS m_los,
        mad(avg_los) OVER p AS d_los,
        median(readmission_rate) OVER p AS m_readm,
        mad(readmission_rate) OVER p AS d_readm,
        median(stays_per_patient) OVER p AS m_stays,
        mad(stays_per_patient) OVER p AS d_stays
    FROM kpi
    WINDOW p AS (PARTITION BY scope, fixmedins_lv, year)
), z AS (
    SELECT
        *,
        CASE WHEN n_peers >= $min_peers AND cost IS NOT NULL THEN (cost - m_cost)
            / nullif(greatest(1.4826 * d_cost, $floor_share * m_cost), 0) END AS zc,
        CASE WHEN n_peers >= $min_peers AND fund IS NOT NULL THEN (fund - m_fund)
            / nullif(greatest(1.4826 * d_fund, $floor_share * m_fund), 0) END AS zf,
        CASE WHEN n_peers >= $min_peers AND avg_los IS NOT NULL THEN (avg_los - m_los)
            / nullif(greatest(1.4826 * d_los, $floor_share * m_los), 0) END AS zl,
        CASE WHEN n_peers >= $min_peers AND readmission_rate IS NOT NULL
            THEN (readmission_rate - m_readm)
            / greatest(1.4826 * d_readm, $floor_share * m_readm, $rate_floor) END AS zr,
        CASE WHEN n_peers >= $min_peers AND stays_per_patient IS NOT NULL
            THEN (stays_per_patient - m_stays)
            / nullif(greatest(1.4826 * d_stays, $floor_share * m_stays), 0) END AS zs
    FROM stats
), judged AS (
    SELECT
        *,
        CASE WHEN zc IS NOT NULL THEN CAST(
            (coalesce(abs(zc), 0) > $z_threshold)::INTEGER
            + (coalesce(abs(zl), 0) > $z_threshold)::INTEGER
            + (coalesce(abs(zr), 0) > $z_threshold)::INTEGER
            + (coalesce(abs(zs), 0) > $z_threshold)::INTEGER AS INTEGER) END AS n_out,
        greatest(abs(zc), abs(zf), abs(zl), abs(zr), abs(zs)) AS z_max
    FROM z
)
SELECT
    node_id AS node,
    fixmedins_code,
    fixmedins_lv,
    region,
    year,
    n_out >= $min_kpis AS outlier,
    CASE
        WHEN patients IS NULL THEN '未披露'
        WHEN zc IS NULL THEN '同级不足'
        WHEN zc > $z_threshold AND zl > $z_threshold THEN '高费用长住院'
        WHEN zc < -$z_threshold AND zl < -$z_threshold THEN '低费用短住院'
        WHEN zc > $z_threshold OR zf > $z_threshold THEN '高费用'
        WHEN zl > $z_threshold THEN '长住院'
        WHEN zr > $z_threshold OR zs > $z_threshold THEN '高再入院'
        WHEN n_out >= $min_kpis THEN '多项异常'
        WHEN z_max > $watch_threshold THEN '关注'
        ELSE '正常'
    END AS profile_class,
    patients,
    admissions,
    ipt_cost_total,
    fund_paid,
    avg_ipt_cost,
    avg_fund_per_stay,
    avg_los,
    readmissions,
    readmission_rate,
    stays_per_patient,
    CAST(n_peers AS INTEGER) AS peers,
    round(zc, 2) AS z_cost,
    round(zf, 2) AS z_fund,
    round(zl, 2) AS z_los,
    round(zr, 2) AS z_readmission,
    round(zs, 2) AS z_stays,
    n_out AS outlier_kpis
FROM judged
ORDER BY node, fixmedins_lv, fixmedins_code, year
