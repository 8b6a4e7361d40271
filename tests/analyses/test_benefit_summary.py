"""fund.benefit_summary: combining the node parts gives the whole, persons counted per node."""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from analyses import load_library, partials_table, run_model_sql

MODEL = load_library().get("fund.benefit_summary")
PARAMS = MODEL.bind_parameters({})
PERSONS = [f"44010319500312{n:03d}X" for n in range(6)]
#: Paying pools (pool_admdvs) of two provinces: 440100 and 440500 are both region 440000.
POOLS = ["440100", "440500", "320100"]

row = st.tuples(
    st.integers(0, len(PERSONS) - 1),
    st.sampled_from(POOLS),
    st.sampled_from(["110", "170"]),
    st.integers(1, 3),
    st.integers(-50_000, 500_000),
)


def region(pool: str) -> str:
    """The province code of a paying pool, as the model derives it."""
    return pool[:2] + "0000"


def payments(rows) -> pa.Table:
    """A benefit_payment table with the columns the model reads."""
    return pa.table({
        "id_no": pa.array([PERSONS[p] for p, _, _, _, _ in rows], pa.string()),
        "pool_admdvs": pa.array([pool for _, pool, _, _, _ in rows], pa.string()),
        "scheme_code": pa.array([s for _, _, s, _, _ in rows], pa.string()),
        "period": pa.array([dt.date(2024, m, 1) for _, _, _, m, _ in rows], pa.date32()),
        "amount": pa.array([decimal.Decimal(c).scaleb(-2) for _, _, _, _, c in rows],
                           pa.decimal128(14, 2)),
    })


def province(rows) -> pa.Table:
    return run_model_sql(MODEL.sql["province"], {"benefit_payment": payments(rows)}, PARAMS)


def combine(parts: dict[int, list]) -> pa.Table:
    outputs = {f"node{n}": province(rows) for n, rows in parts.items()}
    return run_model_sql(MODEL.sql["combine"], {"partials": partials_table(outputs)}, PARAMS)


def cells(table: pa.Table) -> dict[tuple, dict]:
    return {(r["region"], r["scheme_code"], r["period"]): r for r in table.to_pylist()}


@settings(max_examples=25, deadline=None)
@given(st.lists(row, min_size=1, max_size=30), st.lists(st.integers(0, 2), min_size=6,
                                                         max_size=6))
def test_split_by_person_combines_to_the_whole(rows, node_of_person):
    parts: dict[int, list] = {}
    for r in rows:
        parts.setdefault(node_of_person[r[0]], []).append(r)
    assert cells(combine(parts)) == cells(province(rows))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(row, st.integers(0, 2)), min_size=1, max_size=30))
def test_a_person_at_two_nodes_is_counted_twice(tagged):
    parts: dict[int, list] = {}
    for r, node in tagged:
        parts.setdefault(node, []).append(r)
    whole = cells(province([r for r, _ in tagged]))
    combined = cells(combine(parts))
    assert combined.keys() == whole.keys()
    per_node = Counter()
    for rows in parts.values():
        for key in {(region(pool), s, dt.date(2024, m, 1), p) for p, pool, s, m, _ in rows}:
            per_node[key[:3]] += 1
    for key, cell in combined.items():
        assert cell["payments"] == whole[key]["payments"]
        assert cell["amount"] == whole[key]["amount"]
        assert cell["persons"] == per_node[key] >= whole[key]["persons"]


def node_output(rows) -> pa.Table:
    """What a province node's SQL returns: the declared columns, then amount's helpers."""
    return run_model_sql(MODEL.node_sql["province"], {"benefit_payment": payments(rows)}, PARAMS)


@settings(max_examples=25, deadline=None)
@given(st.lists(row, min_size=1, max_size=30))
def test_the_helpers_are_the_two_largest_absolute_per_person_amounts(rows):
    per_person: dict[tuple, dict[int, decimal.Decimal]] = {}
    for p, pool, scheme, month, cents in rows:
        key = (region(pool), scheme, dt.date(2024, month, 1))
        per_person.setdefault(key, {}).setdefault(p, decimal.Decimal(0))
        per_person[key][p] += decimal.Decimal(cents).scaleb(-2)
    out = node_output(rows)
    assert out.column_names == [*MODEL.output.names, "amount__top1", "amount__top2"]
    released = cells(province(rows))
    for cell in out.to_pylist():
        key = (cell["region"], cell["scheme_code"], cell["period"])
        tops = sorted((abs(v) for v in per_person[key].values()), reverse=True)
        assert cell["amount__top1"] == tops[0]
        assert cell["amount__top2"] == (tops[1] if len(tops) > 1 else None)
        # The declared columns equal what `sql` (the released shape) returns.
        assert {k: cell[k] for k in MODEL.output.names} == released[key]
