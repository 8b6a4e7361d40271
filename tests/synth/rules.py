"""Each priority model's rule (and a naive version of it) as DuckDB SQL over the CSV files.

These queries are written from truth/README.md, independently of the generator's
Python code: the tests load a generated federation into DuckDB with the column types of
the dataset standards and compare what the rules return with the truth files.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import duckdb

from analyses.datasets import load_standard

PENSION = "scheme_code IN ('110','120','170') AND benefit_item IN ('0101','0102','0103')"
DEATHS = "SELECT id_no, min(death_date) AS death_date FROM death_record GROUP BY id_no"


def connect(out: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every dataset of the federation as a table; province
    tables carry a node_id column."""
    spec = tomllib.loads((out / "federation.toml").read_text(encoding="utf-8"))
    con = duckdb.connect()
    tables: dict[str, list[str]] = {}
    for node in spec["node"]:
        for ds in node["datasets"]:
            std = load_standard(ds)
            types = ", ".join(f"'{c.name}': '{c.type}'" for c in std.columns)
            path = (out / node["id"] / f"{ds}.csv").as_posix()
            tables.setdefault(ds, []).append(
                f"SELECT '{node['id']}' AS node_id, * FROM read_csv('{path}', header = true, "
                f"auto_detect = false, columns = {{{types}}})")
    for ds, parts in tables.items():
        con.execute(f"CREATE TABLE {ds} AS " + " UNION ALL ".join(parts))
    return con


def rows(con, sql: str) -> set[tuple]:
    return {tuple(str(v) for v in r) for r in con.execute(sql).fetchall()}


# Each entry: the rule's key columns (matching the truth file) and the SQL returning
# them; and a naive rule returning the keys of everything it would flag.
RULES: dict[str, tuple[tuple[str, ...], str, str]] = {}

RULES["PEN-01"] = (("node_id", "id_no", "months", "amount"), f"""
    WITH d AS ({DEATHS}), m AS (
      SELECT b.node_id, b.id_no, b.period, sum(b.amount) AS net
      FROM benefit_payment b JOIN d USING (id_no)
      WHERE b.scheme_code IN ('110','120','170') AND b.benefit_item NOT IN ('0104','0105')
        AND b.period > date_trunc('month', d.death_date)
      GROUP BY ALL)
    SELECT node_id, id_no, count(*) FILTER (WHERE net > 0), sum(net)
    FROM m GROUP BY node_id, id_no HAVING sum(net) > 0""", f"""
    WITH d AS ({DEATHS})
    SELECT DISTINCT b.node_id, b.id_no FROM benefit_payment b JOIN d USING (id_no)
    WHERE b.scheme_code IN ('110','120','170') AND b.amount > 0
      AND b.period >= date_trunc('month', d.death_date)""")

RULES["PEN-03"] = (("node_id", "id_no", "months", "amount"), f"""
    WITH m AS (SELECT node_id, id_no, period, sum(amount) AS net FROM benefit_payment
               WHERE {PENSION} GROUP BY ALL HAVING sum(amount) > 0),
    dup AS (SELECT id_no, period FROM m GROUP BY ALL HAVING count(DISTINCT node_id) > 1)
    SELECT node_id, id_no, count(*), sum(net) FROM m JOIN dup USING (id_no, period)
    GROUP BY ALL""", f"""
    WITH m AS (SELECT DISTINCT node_id, id_no, period FROM benefit_payment
               WHERE {PENSION} AND amount > 0),
    dup AS (SELECT id_no, period FROM m GROUP BY ALL HAVING count(DISTINCT node_id) > 1)
    SELECT DISTINCT node_id, id_no FROM m JOIN dup USING (id_no, period)""")

RULES["PEN-04"] = (("node_id", "id_no", "months", "amount"), f"""
    WITH m AS (SELECT node_id, id_no, period,
                      sum(amount) FILTER (WHERE scheme_code = '170') AS res,
                      sum(amount) FILTER (WHERE scheme_code IN ('110','120')) AS emp
               FROM benefit_payment WHERE {PENSION} GROUP BY ALL)
    SELECT node_id, id_no, count(*), sum(res) FROM m WHERE res > 0 AND emp > 0
    GROUP BY ALL""", """
    SELECT DISTINCT a.node_id, a.id_no FROM benefit_payment a JOIN benefit_payment b
      ON a.node_id = b.node_id AND a.id_no = b.id_no AND a.period = b.period
    WHERE a.scheme_code = '170' AND b.scheme_code IN ('110','120') AND a.amount > 0
      AND b.amount > 0""")

RULES["PEN-05"] = (("node_id", "id_no", "months", "amount"), """
    WITH r AS (SELECT node_id, id_no, period, sum(amount) AS res FROM benefit_payment
               WHERE scheme_code = '170' AND benefit_item IN ('0102','0103')
               GROUP BY ALL HAVING sum(amount) > 0)
    SELECT node_id, id_no, count(*), sum(res) FROM r
    WHERE EXISTS (SELECT 1 FROM public_payroll f WHERE f.node_id = r.node_id
                  AND f.id_no = r.id_no AND f.period = r.period AND f.status IN ('1','2')
                  AND f.staffing_type <> '50')
    GROUP BY ALL""", """
    SELECT DISTINCT b.node_id, b.id_no FROM benefit_payment b JOIN public_payroll f
      ON f.node_id = b.node_id AND f.id_no = b.id_no AND f.period = b.period
    WHERE b.scheme_code = '170' AND b.amount > 0""")

_FLOOR = """CASE WHEN retire_type = '10' THEN (CASE WHEN gender = '1' THEN 720 ELSE 600 END)
                 WHEN retire_type = '30' THEN (CASE WHEN gender = '1' THEN 600 ELSE 540 END)
                 ELSE (CASE WHEN gender = '1' THEN 660 ELSE 540 END) END"""
RULES["PEN-06"] = (("node_id", "id_no", "scheme_code", "retire_age_months", "amount", "reason"),
                   f"""
    WITH r AS (SELECT *, date_sub('month', birth_date, retire_date) AS age_m,
                      date_sub('month', birth_date, work_start_date) AS work_m
               FROM insured_person WHERE retire_flag),
    f AS (SELECT node_id, id_no, scheme_code, age_m,
                 CASE WHEN scheme_code = '170' AND age_m < 720 THEN 'RES_UNDER_60'
                      WHEN scheme_code IN ('110','120') AND age_m < {_FLOOR}
                        THEN 'BELOW_STATUTORY_AGE'
                      WHEN work_m < 192 THEN 'WORK_START_BEFORE_16' END AS reason
          FROM r),
    paid AS (SELECT node_id, id_no, scheme_code, sum(amount) AS amount FROM benefit_payment
             WHERE {PENSION} GROUP BY ALL)
    SELECT f.node_id, f.id_no, f.scheme_code, f.age_m, coalesce(paid.amount, 0.00), f.reason
    FROM f LEFT JOIN paid USING (node_id, id_no, scheme_code)
    WHERE f.reason IS NOT NULL""", """
    SELECT DISTINCT node_id, id_no FROM insured_person
    WHERE retire_flag AND ((scheme_code = '170'
                            AND date_sub('month', birth_date, retire_date) < 720)
       OR (scheme_code IN ('110','120') AND date_sub('month', birth_date, retire_date)
           < CASE WHEN gender = '1' THEN 720 ELSE 660 END))""")

RULES["MED-01"] = (("node_id", "id_no", "setl_id", "amount"), f"""
    WITH d AS ({DEATHS})
    SELECT s.node_id, s.id_no, s.setl_id, s.fund_pay_sumamt + s.acct_pay
    FROM med_settlement s JOIN d USING (id_no)
    WHERE s.begin_date > d.death_date AND NOT coalesce(s.refund_flag, false)""", f"""
    WITH d AS ({DEATHS})
    SELECT DISTINCT s.node_id, s.id_no, s.setl_id FROM med_settlement s JOIN d USING (id_no)
    WHERE CAST(s.setl_time AS DATE) > d.death_date""")

_STAYS = "med_type IN ('21','22','52') AND NOT coalesce(refund_flag, false)"
_OVERLAP = "date_diff('day', greatest(a.begin_date, b.begin_date), least(a.end_date, b.end_date))"
# Within a province: one row per pair, both fund payments. Across provinces: one row per
# node, its own stay first and its own fund payment.
RULES["MED-02"] = (("node_id", "id_no", "setl_id_a", "setl_id_b", "overlap_days", "amount"),
                   f"""
    WITH s AS (SELECT * FROM med_settlement WHERE {_STAYS})
    SELECT a.node_id, a.id_no, a.setl_id, b.setl_id, {_OVERLAP},
           a.fund_pay_sumamt + b.fund_pay_sumamt
    FROM s a JOIN s b ON a.node_id = b.node_id AND a.id_no = b.id_no
      AND a.setl_id < b.setl_id AND a.fixmedins_code <> b.fixmedins_code
    WHERE {_OVERLAP} >= 1
    UNION ALL
    SELECT a.node_id, a.id_no, a.setl_id, b.setl_id, {_OVERLAP}, a.fund_pay_sumamt
    FROM s a JOIN s b ON a.node_id <> b.node_id AND a.id_no = b.id_no
    WHERE {_OVERLAP} >= 1""", f"""
    WITH s AS (SELECT * FROM med_settlement WHERE {_STAYS})
    SELECT a.node_id, a.id_no, a.setl_id, b.setl_id
    FROM s a JOIN s b ON a.id_no = b.id_no AND a.fixmedins_code <> b.fixmedins_code
      AND (a.setl_id < b.setl_id OR a.node_id <> b.node_id)
      AND a.begin_date <= b.end_date AND b.begin_date <= a.end_date""")

_IPT = """SELECT node_id, id_no, setl_id, fixmedins_code, main_diag_code, begin_date, end_date,
                 fund_pay_sumamt,
                 lag(setl_id) OVER w AS prev_setl, lag(end_date) OVER w AS prev_end,
                 lag(main_diag_code) OVER w AS prev_diag
          FROM med_settlement
          WHERE med_type IN ('21','22') AND NOT coalesce(refund_flag, false)
          WINDOW w AS (PARTITION BY node_id, id_no, fixmedins_code
                       ORDER BY begin_date, end_date)"""
RULES["MED-04"] = (("node_id", "id_no", "prev_setl_id", "setl_id", "gap_days", "amount"), f"""
    SELECT node_id, id_no, prev_setl, setl_id, date_diff('day', prev_end, begin_date),
           fund_pay_sumamt
    FROM ({_IPT})
    WHERE prev_end IS NOT NULL AND date_diff('day', prev_end, begin_date) BETWEEN 0 AND 15
      AND left(main_diag_code, 3) = left(prev_diag, 3)
      AND main_diag_code NOT LIKE 'Z51%' AND main_diag_code NOT LIKE 'N18%'""", f"""
    SELECT node_id, id_no, prev_setl, setl_id FROM ({_IPT})
    WHERE prev_end IS NOT NULL AND date_diff('day', prev_end, begin_date) BETWEEN 0 AND 15""")

_KPI = """
    WITH k AS (
      SELECT node_id, fixmedins_code, fixmedins_lv, year(setl_time) AS yr, count(*) AS n,
             avg(medfee_sumamt) AS cost, avg(date_diff('day', begin_date, end_date)) AS los,
             sum(fund_pay_sumamt) AS fund
      FROM med_settlement
      WHERE med_type IN ('21','22') AND NOT coalesce(refund_flag, false)
        AND fixmedins_code LIKE 'H%'
      GROUP BY ALL)
    SELECT *,
      (cost - median(cost) OVER p)
        / greatest(1.4826 * mad(cost) OVER p, 0.1 * median(cost) OVER p) AS z_cost,
      (los - median(los) OVER p)
        / greatest(1.4826 * mad(los) OVER p, 0.1 * median(los) OVER p) AS z_los,
      n / median(n) OVER p AS volume_ratio
    FROM k WINDOW p AS (PARTITION BY node_id, fixmedins_lv, yr)"""
RULES["MED-08"] = (("node_id", "fixmedins_code", "year", "admissions"), f"""
    SELECT node_id, fixmedins_code, yr, n FROM ({_KPI})
    WHERE abs(z_cost) > 3 AND abs(z_los) > 3""", f"""
    SELECT node_id, fixmedins_code, yr FROM ({_KPI}) WHERE volume_ratio > 2""")

RULES["UNE-01"] = (("node_id", "id_no", "reason", "months", "amount"), f"""
    WITH u AS (SELECT node_id, id_no, period, amount FROM benefit_payment
               WHERE scheme_code = '210' AND benefit_item = '0201' AND amount > 0),
    f AS (SELECT node_id, id_no, min(period) AS first_ui FROM u GROUP BY ALL),
    pen AS (SELECT node_id, id_no, period FROM benefit_payment WHERE {PENSION}
            GROUP BY ALL HAVING sum(amount) > 0),
    d AS ({DEATHS}),
    flagged AS (
      SELECT u.*, 'EMPLOYED' AS reason FROM u JOIN f USING (node_id, id_no)
      WHERE u.period > f.first_ui AND EXISTS (
        SELECT 1 FROM contribution c WHERE c.node_id = u.node_id AND c.id_no = u.id_no
          AND c.period = u.period AND c.contrib_type = '10' AND c.employer_id IS NOT NULL)
      UNION ALL
      SELECT u.*, 'RECEIVING_PENSION' FROM u WHERE EXISTS (
        SELECT 1 FROM pen WHERE pen.node_id = u.node_id AND pen.id_no = u.id_no
          AND pen.period = u.period)
      UNION ALL
      SELECT u.*, 'DECEASED' FROM u JOIN d USING (id_no)
      WHERE date_trunc('month', d.death_date) < u.period)
    SELECT node_id, id_no, reason, count(*), sum(amount) FROM flagged GROUP BY ALL""", """
    WITH u AS (SELECT node_id, id_no, period FROM benefit_payment
               WHERE scheme_code = '210' AND benefit_item = '0201' AND amount > 0)
    SELECT DISTINCT u.node_id, u.id_no FROM u JOIN contribution c
      ON c.node_id = u.node_id AND c.id_no = u.id_no AND c.period = u.period""")

RULES["SA-01"] = (("node_id", "case_id", "cars", "house_units", "businesses", "amount"), """
    WITH active AS (SELECT DISTINCT node_id, case_id, id_no FROM assistance_member
                    WHERE program IN ('01','02','03') AND status = '1'),
    car AS (SELECT owner_id_no AS id_no, count(*) AS n FROM vehicle_registration
            WHERE status = 'A' AND vehicle_type NOT LIKE 'M%' GROUP BY ALL),
    house AS (SELECT owner_id_no AS id_no, count(DISTINCT unit_no) AS n FROM real_estate_right
              WHERE cancel_date IS NULL AND usage IN ('10','20') GROUP BY ALL),
    biz AS (SELECT p.id_no, count(*) AS n FROM business_person p JOIN business_entity e
              USING (uscc)
            WHERE e.status = '01' AND p.role IN ('01','02','03') AND p.end_date IS NULL
            GROUP BY ALL),
    paid AS (SELECT node_id, case_id, sum(amount) AS amount FROM assistance_payment
             WHERE program IN ('01','02','03') GROUP BY ALL),
    h AS (SELECT a.node_id, a.case_id, sum(coalesce(car.n, 0)) AS cars,
                 sum(coalesce(house.n, 0)) AS houses, sum(coalesce(biz.n, 0)) AS businesses
          FROM active a LEFT JOIN car USING (id_no) LEFT JOIN house USING (id_no)
          LEFT JOIN biz USING (id_no) GROUP BY ALL)
    SELECT h.node_id, h.case_id, h.cars, h.houses, h.businesses, paid.amount
    FROM h JOIN paid USING (node_id, case_id)
    WHERE h.cars > 0 OR h.houses > 1 OR h.businesses > 0""", """
    WITH m AS (SELECT DISTINCT node_id, case_id, id_no FROM assistance_member
               WHERE program IN ('01','02','03')),
    owners AS (SELECT owner_id_no AS id_no FROM vehicle_registration
               UNION SELECT owner_id_no FROM real_estate_right
               UNION SELECT id_no FROM business_person)
    SELECT DISTINCT node_id, case_id FROM m JOIN owners USING (id_no)""")

_SA03 = """
    WITH as_of AS (SELECT max(data_as_of) AS d FROM assistance_member),
    t AS (SELECT node_id, id_no, left(admdvs, 6) AS county,
                 bool_or(relation = '03' AND date_sub('year', birth_date, as_of.d) <= 22)
                   AS student
          FROM assistance_member, as_of
          WHERE status = '1' AND date_sub('year', birth_date, as_of.d) >= 16
          GROUP BY ALL),
    enrolled AS (SELECT DISTINCT node_id, id_no FROM insured_person
                 WHERE scheme_code IN ('110','120','170')),
    c AS (SELECT t.*, EXISTS (SELECT 1 FROM enrolled e WHERE e.id_no = t.id_no) AS anywhere,
                 EXISTS (SELECT 1 FROM enrolled e WHERE e.id_no = t.id_no
                         AND e.node_id = t.node_id) AS here
          FROM t)"""
RULES["SA-03"] = (("node_id", "county", "reason", "persons"), f"""
    {_SA03}
    SELECT node_id, county, 'NOT_ENROLLED', count(*) FROM c
    WHERE NOT anywhere AND NOT student GROUP BY ALL""", f"""
    {_SA03}
    SELECT node_id, county, CASE WHEN student THEN 'STUDENT' ELSE 'ENROLLED_ELSEWHERE' END,
           count(*)
    FROM c WHERE (student AND NOT anywhere) OR (NOT student AND NOT here AND anywhere)
    GROUP BY ALL""")
