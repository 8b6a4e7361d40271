"""An aggregate's federated totals against the same SQL over the union of the nodes' data."""

from __future__ import annotations

import csv
import dataclasses
from decimal import Decimal

import pyarrow as pa
import pytest

from analyses import load_library
from analyses.evaluate import EvaluateError, compare_totals, union_result
from tests.model_support import build_federation

COLUMNS = ["persons", "amount", "share", "z"]
DIMENSIONS = ["node", "region"]


def direct(regions=("440000", "370000"), persons=(12, 30), amounts=("100.50", "200.25"),
           shares=(0.1, 0.2)):
    """A direct result: the node SQL leaves `node` and `z` empty (the combine fills them)."""
    return pa.table({
        "node": pa.array([None] * len(regions), pa.string()),
        "region": list(regions), "persons": list(persons),
        "amount": pa.array([Decimal(a) for a in amounts], pa.decimal128(38, 2)),
        "share": list(shares), "z": pa.array([None] * len(regions), pa.float64())})


def combined(persons=(12, 30), amounts=("100.50", "200.25"), shares=(0.1, 0.2),
             lower_bound=None):
    columns = {
        "node": ["gd", "sd"], "region": ["440000", "370000"], "persons": list(persons),
        "amount": pa.array([None if a is None else Decimal(a) for a in amounts],
                           pa.decimal128(38, 2)),
        "share": list(shares), "z": [1.5, -0.5]}
    if lower_bound is not None:
        columns["lower_bound"] = lower_bound
    return pa.table(columns)


def by_column(rows):
    return {row["column"]: row for row in rows}


def test_equal_totals_when_nothing_is_suppressed():
    verdict, rows = compare_totals(combined(), [direct()], COLUMNS, DIMENSIONS)
    assert verdict == "equal"
    totals = by_column(rows)
    assert totals["persons"] == {"column": "persons", "federated": 42, "direct": 42,
                                 "equal": True}
    assert totals["amount"]["federated"] == Decimal("300.75")
    assert totals["z"]["equal"] is None  # filled at HQ only: not compared


def test_totals_add_up_over_the_levels_of_the_direct_computation():
    levels = [direct(regions=("440000",), persons=(12,), amounts=("100.50",), shares=(0.1,)),
              direct(regions=("370000",), persons=(30,), amounts=("200.25",), shares=(0.2,))]
    assert compare_totals(combined(), levels, COLUMNS, DIMENSIONS)[0] == "equal"


def test_float_totals_agree_within_rounding():
    shares = (0.1 + 1e-12, 0.2)
    assert compare_totals(combined(shares=shares), [direct()], COLUMNS, DIMENSIONS)[0] == "equal"


def test_a_different_total_differs():
    verdict, rows = compare_totals(combined(amounts=("100.50", "200.26")), [direct()], COLUMNS,
                                   DIMENSIONS)
    assert verdict == "differs"
    assert by_column(rows)["amount"]["equal"] is False
    assert by_column(rows)["persons"]["equal"] is True


def test_a_suppressed_cell_makes_a_lower_bound_when_the_released_cells_agree():
    fed = combined(persons=(None, 30), amounts=(None, "200.25"), shares=(None, 0.2),
                   lower_bound=[True, False])
    verdict, rows = compare_totals(fed, [direct()], COLUMNS, DIMENSIONS)
    assert verdict == "lower bound"
    persons = by_column(rows)["persons"]
    assert (persons["federated"], persons["direct"], persons["equal"]) == (30, 42, False)
    assert (persons["released_federated"], persons["released_direct"],
            persons["released_equal"]) == (30, 30, True)


def test_a_null_count_marks_a_suppressed_row_even_without_the_lower_bound_mark():
    fed = combined(persons=(None, 30), amounts=(None, "200.25"), shares=(None, 0.2),
                   lower_bound=[False, False])
    assert compare_totals(fed, [direct()], COLUMNS, DIMENSIONS,
                          count="persons")[0] == "lower bound"
    assert compare_totals(fed, [direct()], COLUMNS, DIMENSIONS)[0] == "differs"


def test_suppression_reported_elsewhere_still_makes_a_lower_bound():
    verdict, rows = compare_totals(combined(), [direct()], COLUMNS, DIMENSIONS, suppressed=True)
    assert verdict == "lower bound"
    assert by_column(rows)["persons"]["released_equal"] is True


def test_released_cells_that_disagree_differ():
    fed = combined(persons=(None, 31), amounts=(None, "200.25"), shares=(None, 0.2),
                   lower_bound=[True, False])
    verdict, rows = compare_totals(fed, [direct()], COLUMNS, DIMENSIONS)
    assert verdict == "differs"
    assert by_column(rows)["persons"]["released_equal"] is False


def test_nothing_to_compare():
    verdict, _ = compare_totals(combined(), [direct()], ["z"], DIMENSIONS)
    assert verdict == "not compared"


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    """benefit_payment of two generated provinces, ingested as at a node; and the CSVs."""
    fed = build_federation(tmp_path_factory.mktemp("union"), ("benefit_payment",),
                           provinces=2, seed=5)
    return (list(fed.snapshots.values()),
            [fed.out / node / "benefit_payment.csv" for node in fed.snapshots])


def test_union_result_runs_the_node_sql_once_over_every_nodes_snapshot(snapshots):
    files, csvs = snapshots
    model = load_library().get("fund.benefit_summary")
    result = union_result(model, "province", files, model.bind_parameters({}))
    assert result.column_names == list(model.output.names)  # no dominance helpers
    rows = amount = 0
    for path in csvs:
        with open(path, encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows += 1
                amount += Decimal(row["amount"])
    assert sum(result.column("payments").to_pylist()) == rows
    assert sum(result.column("amount").to_pylist()) == amount
    one = union_result(model, "province", files[:1], model.bind_parameters({}))
    assert 0 < sum(one.column("payments").to_pylist()) < rows


def test_union_result_says_which_model_failed(snapshots):
    files, _ = snapshots
    model = load_library().get("fund.benefit_summary")
    broken = dataclasses.replace(
        model, sql={"province": "SELECT no_such_column FROM benefit_payment"})
    with pytest.raises(EvaluateError, match="fund.benefit_summary: its province SQL failed"):
        union_result(broken, "province", files, {})
