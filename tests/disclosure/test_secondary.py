"""Secondary suppression, each result checked by an LP feasibility test (scipy.optimize.linprog).

For every suppressed cell the LP minimises and maximises its value subject to the
table's equations (written here from the known layout, not taken from the engine), the
released values and non-negativity; the cell is protected when max - min > 0.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.disclosure import DisclosureError, apply_disclosure, threshold_rule
from node.disclosure._secondary import secondary_suppression
from node.disclosure._structure import Equation
from node.policy import DisclosurePolicy

from ._tables import (
    assert_protected,
    assert_released_unchanged,
    suppressed_rows,
    two_way,
)

DEFAULT = DisclosurePolicy()
ONE_WAY = ("persons", "amount")


def one_way(counts, amounts, total=True, column="scheme_code", codes=None) -> pa.Table:
    """A 1-D table: one row per part and, with `total`, a last row (NULL) holding the sums."""
    codes = codes or [f"S{i}" for i in range(len(counts))]
    counts, amounts = list(counts), list(amounts)
    if total:
        codes, counts, amounts = [*codes, None], [*counts, sum(counts)], [*amounts, sum(amounts)]
    return pa.table({
        column: pa.array(codes, pa.string()),
        "persons": pa.array(counts, pa.int64()),
        "amount": pa.array([Decimal(a) for a in amounts], pa.decimal128(38, 2)),
    })


def test_one_way_table_with_total(models):
    table = one_way([3, 12, 15, 40], [300, 1200, 1500, 4000])
    disclosed = apply_disclosure(models["by_scheme"], table, DEFAULT)
    marks = disclosed.table.column("disclosure").to_pylist()
    # The part with the smallest count covers the primary cell; the total stays.
    assert marks == ["primary", "secondary", None, None, None]
    assert disclosed.summary["suppressed"] == {"primary": 1, "secondary": 1}
    assert disclosed.summary["equations"] == 1
    equations = [(4, [0, 1, 2, 3])]
    assert_protected(disclosed.table, equations, ONE_WAY)
    assert_released_unchanged(table, disclosed.table, ONE_WAY)


def test_the_lp_check_catches_a_missing_secondary_suppression(models):
    table = one_way([3, 12, 15, 40], [300, 1200, 1500, 4000])
    disclosed = apply_disclosure(models["by_scheme"], table, DEFAULT).table
    # Undo the secondary suppression: the primary cell is then total minus the others.
    undone = table.append_column("disclosure", pa.array(["primary", None, None, None, None]))
    undone = undone.set_column(1, "persons", pa.array([None, 12, 15, 40, 70], pa.int64()))
    undone = undone.set_column(2, "amount", disclosed.column("amount").fill_null(Decimal(0)))
    undone = undone.set_column(2, "amount", pa.array(
        [None, *(Decimal(a) for a in (1200, 1500, 4000, 7000))], pa.decimal128(38, 2)))
    with pytest.raises(AssertionError, match="determined"):
        assert_protected(undone, [(4, [0, 1, 2, 3])], ONE_WAY)


def test_two_way_table_with_margins(models):
    inner = [
        [(12, 20, 1000), (3, 4, 500), (15, 15, 1500)],
        [(20, 20, 100), (30, 40, 200), (40, 40, 400)],
        [(11, 11, 110), (50, 50, 500), (60, 60, 600)],
    ]
    table, equations = two_way(inner)
    disclosed = apply_disclosure(models["summary"], table, DEFAULT)
    assert disclosed.summary["suppressed"] == {"primary": 1, "secondary": 3}
    assert_protected(disclosed.table, equations)
    assert_released_unchanged(table, disclosed.table)
    # The cover is a rectangle of inner cells: every margin is released.
    assert all(i < 9 for i in suppressed_rows(disclosed.table))


def test_region_hierarchy_province_city_county(models):
    codes = ["440000", "440100", "440103", "440104", "440106", "440300", "440303", "440304"]
    counts = [67, 59, 30, 25, 4, 8, 5, 3]
    amounts = [6700, 5900, 3000, 2500, 400, 800, 500, 300]
    table = one_way(counts, amounts, total=False, column="pool_admdvs", codes=codes)
    disclosed = apply_disclosure(models["by_region"], table, DEFAULT)
    marks = dict(zip(codes, disclosed.table.column("disclosure").to_pylist(), strict=True))
    # Shenzhen (440300) and its counties are small; one Guangzhou county is small too.
    assert {c for c, m in marks.items() if m == "primary"} == {
        "440106", "440300", "440303", "440304"}
    # The province minus Guangzhou would give Shenzhen, so Guangzhou is hidden; that
    # also covers its small county, so no second Guangzhou county is needed.
    assert {c for c, m in marks.items() if m == "secondary"} == {"440100"}
    equations = [(1, [2, 3, 4]), (5, [6, 7]), (0, [1, 5])]
    assert disclosed.summary["equations"] == 3
    assert_protected(disclosed.table, equations, ONE_WAY)
    assert_released_unchanged(table, disclosed.table, ONE_WAY)


def test_region_hierarchy_named_by_the_caller(models):
    codes = ["440000", "440100", "440300"]
    table = one_way([50, 45, 5], [500, 450, 50], total=False, column="scheme_code", codes=codes)
    plain = apply_disclosure(models["by_scheme"], table, DEFAULT)
    assert plain.summary["equations"] == 0  # scheme_code is not a region by its name
    named = apply_disclosure(models["by_scheme"], table, DEFAULT,
                             hierarchies={"scheme_code": "region"})
    assert named.summary["equations"] == 1
    assert_protected(named.table, [(0, [1, 2])], ONE_WAY)
    with pytest.raises(DisclosureError, match="BAD_HIERARCHY"):
        apply_disclosure(models["by_scheme"], table, DEFAULT, hierarchies={"persons": "region"})
    with pytest.raises(DisclosureError, match="BAD_HIERARCHY"):
        apply_disclosure(models["by_scheme"], one_way([20], [1]), DEFAULT,
                         hierarchies={"scheme_code": "region"})


def test_zero_cells_fixed_by_non_negativity_are_covered(models):
    # Two empty schemes hidden as disclosive zeros: the released total equals the third
    # scheme, so a + b = 0 with a, b >= 0 would pin both at zero.
    table = one_way([0, 0, 12], [0, 0, 1200])
    policy = dataclasses.replace(DEFAULT, zeros="disclosive")
    disclosed = apply_disclosure(models["by_scheme"], table, policy)
    assert disclosed.table.column("disclosure").to_pylist()[:2] == ["primary", "primary"]
    assert disclosed.summary["suppressed"]["secondary"] == 1
    assert_protected(disclosed.table, [(3, [0, 1, 2])], ONE_WAY)


def test_person_counts_that_do_not_add_up_still_protect_the_amounts(models):
    # One person is paid under two schemes: 49 distinct persons in total, not 3 + 12 + 35.
    table = one_way([3, 12, 35], [300, 1200, 3500])
    table = table.set_column(1, "persons", pa.array([3, 12, 35, 49], pa.int64()))
    disclosed = apply_disclosure(models["by_scheme"], table, DEFAULT)
    assert disclosed.summary["suppressed"] == {"primary": 1, "secondary": 1}
    assert_protected(disclosed.table, [(3, [0, 1, 2])], ("amount",))


def test_double_measures_that_add_up_only_approximately_still_count(models):
    amounts = pa.array([0.1, 0.2, 0.7, 0.1 + 0.2 + 0.7], pa.float64())
    table = one_way([3, 12, 15], [0, 0, 0]).set_column(2, "amount", amounts)
    table = table.set_column(1, "persons", pa.array([3, 12, 15, 31], pa.int64()))
    disclosed = apply_disclosure(models["by_scheme"], table, DEFAULT)
    assert disclosed.summary["suppressed"] == {"primary": 1, "secondary": 1}


def test_a_structurally_determined_cell_is_refused():
    # Total = a + b and total = a hold together only with b = 0, released or not.
    equations = [Equation(0, (1, 2), "test"), Equation(0, (1,), "test")]
    values = [Fraction(5), Fraction(5), Fraction(0)]
    with pytest.raises(DisclosureError, match="UNPROTECTABLE"):
        secondary_suppression(equations, {"v": (values, False)}, [5, 5, 0], {2})


CUBE_SQL = """
WITH per_person AS (
    SELECT scheme_code, period, id_no, GROUPING(scheme_code, period) AS level,
           count(*) AS payments, sum(amount) AS amount
    FROM benefit_payment
    GROUP BY GROUPING SETS ((scheme_code, period, id_no), (scheme_code, id_no),
                            (period, id_no), (id_no))
)
SELECT '440000' AS region, scheme_code, period, CAST(count(*) AS BIGINT) AS persons,
       CAST(sum(payments) AS BIGINT) AS payments,
       CAST(sum(amount) AS DECIMAL(38, 2)) AS amount,
       max(abs(amount)) AS amount__top1,
       list_sort(list(abs(amount)), 'DESC')[2] AS amount__top2
FROM per_person
GROUP BY scheme_code, period, level
ORDER BY level, scheme_code, period
"""


def test_duckdb_cube_with_dominance_helpers(models):
    con = duckdb.connect()
    con.execute("CREATE TABLE benefit_payment (id_no VARCHAR, scheme_code VARCHAR, "
                "period DATE, amount DECIMAL(14, 2))")
    rows = []
    # Scheme 110: 30 persons in each of two months, each person in one month only.
    for p in range(60):
        rows.append((f"P{p:03d}", "110", f"2024-0{1 + p % 2}-01", 1000 + p))
    # Scheme 170, January: 12 persons, one of whom holds almost all of the money.
    rows.append(("Q000", "170", "2024-01-01", 90000))
    rows += [(f"Q{p:03d}", "170", "2024-01-01", 100) for p in range(1, 12)]
    # Scheme 170, February: 15 ordinary persons.
    rows += [(f"R{p:03d}", "170", "2024-02-01", 200) for p in range(15)]
    con.executemany("INSERT INTO benefit_payment VALUES (?, ?, ?, ?)", rows)
    table = con.sql(CUBE_SQL).to_arrow_table()
    assert table.num_rows == 9
    disclosed = apply_disclosure(models["summary"], table, DEFAULT)
    out = disclosed.table
    assert "amount__top1" not in out.column_names and "amount__top2" not in out.column_names
    key = list(zip(out.column("scheme_code").to_pylist(),
                   [str(p) if p else None for p in out.column("period").to_pylist()],
                   strict=True))
    marks = dict(zip(key, out.column("disclosure").to_pylist(), strict=True))
    assert marks[("170", "2024-01-01")] == "primary"
    assert disclosed.summary["rule_hits"]["dominance"] >= 1
    assert disclosed.summary["suppressed"]["secondary"] >= 1
    index = {k: i for i, k in enumerate(key)}
    schemes, months = ("110", "170"), ("2024-01-01", "2024-02-01")
    equations = [(index[(s, None)], [index[(s, m)] for m in months]) for s in schemes]
    equations += [(index[(None, m)], [index[(s, m)] for s in schemes]) for m in months]
    equations += [(index[(None, None)], [index[(s, None)] for s in schemes]),
                  (index[(None, None)], [index[(None, m)] for m in months])]
    assert_protected(out, equations)


cells = st.integers(0, 30).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(n, 3 * n), st.integers(0, 500) if n else st.just(0)))


@st.composite
def inner_tables(draw):
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return [[draw(cells) for _ in range(cols)] for _ in range(rows)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inner=inner_tables(), zeros=st.sampled_from(["allowed", "disclosive"]),
       minimum=st.sampled_from([5, 10]))
def test_every_two_way_table_passes_the_lp_check(models, inner, zeros, minimum):
    table, equations = two_way(inner)
    policy = dataclasses.replace(DEFAULT, zeros=zeros, min_contributors=minimum)
    disclosed = apply_disclosure(models["summary"], table, policy)
    marks = disclosed.table.column("disclosure").to_pylist()
    for count, mark in zip(table.column("persons").to_pylist(), marks, strict=True):
        assert (mark == "primary") == (threshold_rule(count, minimum, zeros) is not None)
    assert_protected(disclosed.table, equations)
    assert_released_unchanged(table, disclosed.table)
