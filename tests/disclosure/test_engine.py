"""Checks every output kind passes, and primary suppression of aggregate cells."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pyarrow as pa
import pytest

from analyses._output import Output, OutputColumn
from node.disclosure import MARKER_COLUMN, DisclosureError, apply_disclosure
from node.errors import NodeError
from node.policy import DisclosurePolicy

from ._tables import assert_released_unchanged, month, summary_table

DEFAULT = DisclosurePolicy()


def by_scheme(counts, amounts=None, **extra) -> pa.Table:
    """A 1-D table (no total) for disclosure.by_scheme: one scheme per count."""
    amounts = amounts or [100 * (i + 1) for i in range(len(counts))]
    columns = {
        "scheme_code": pa.array([f"S{i}" for i in range(len(counts))]),
        "persons": pa.array(counts, pa.int64()),
        "amount": pa.array([Decimal(a) for a in amounts], pa.decimal128(38, 2)),
    }
    return pa.table({**columns, **extra})


def markers(disclosed) -> list:
    return disclosed.table.column(MARKER_COLUMN).to_pylist()


@pytest.mark.parametrize(
    ("zeros", "expected"),
    [
        ("allowed", [None, "primary", "primary", None, None]),
        ("disclosive", ["primary", "primary", "primary", None, None]),
    ],
)
def test_threshold_and_zeros_mark_and_blank_the_cell(models, zeros, expected):
    table = by_scheme([0, 1, 9, 10, 11])
    disclosed = apply_disclosure(models["by_scheme"], table,
                                 dataclasses.replace(DEFAULT, zeros=zeros))
    assert markers(disclosed) == expected
    assert disclosed.table.num_rows == 5  # suppressed, never dropped
    assert disclosed.table.column("scheme_code").to_pylist() == ["S0", "S1", "S2", "S3", "S4"]
    assert_released_unchanged(table, disclosed.table, ("persons", "amount"))
    hits = disclosed.summary["rule_hits"]
    assert hits["threshold"] == 2 and hits["zeros"] == (1 if zeros == "disclosive" else 0)
    assert disclosed.summary["suppressed"] == {"primary": expected.count("primary"),
                                               "secondary": 0}
    assert disclosed.summary["cells"] == 5
    assert disclosed.summary["settings"]["disclosure"]["zeros"] == zeros


def test_min_contributors_comes_from_the_policy(models):
    table = by_scheme([12, 25])
    strict = apply_disclosure(models["by_scheme"], table,
                              dataclasses.replace(DEFAULT, min_contributors=20))
    assert markers(strict) == ["primary", None]
    assert markers(apply_disclosure(models["by_scheme"], table, DEFAULT)) == [None, None]


#: Worked examples as helper columns: (contributions, count) per cell.
CELLS = [([60, 20, 10, 5, 5], 5), ([95, 3, 2], 3), ([10] * 10, 10)]


@pytest.mark.parametrize(
    ("n", "k", "p", "expected", "hits"),
    [
        (1, 50, 0, ["primary", "primary", None], {"dominance": 2, "p_percent": 0}),
        (2, 67, 0, ["primary", "primary", None], {"dominance": 2, "p_percent": 0}),
        (2, 85, 0, [None, "primary", None], {"dominance": 1, "p_percent": 0}),
        (2, 100, 10, [None, "primary", None], {"dominance": 0, "p_percent": 1}),
    ],
)
def test_dominance_and_p_percent_from_helper_columns(models, n, k, p, expected, hits):
    table = by_scheme(
        [count for _, count in CELLS],
        [sum(c) for c, _ in CELLS],
        amount__top1=pa.array([Decimal(max(c)) for c, _ in CELLS], pa.decimal128(38, 2)),
        amount__top2=pa.array([Decimal(sorted(c)[-2]) for c, _ in CELLS], pa.decimal128(38, 2)),
    )
    policy = dataclasses.replace(DEFAULT, min_contributors=1, dominance_n=n, dominance_k=k,
                                 p_percent=p)
    disclosed = apply_disclosure(models["by_scheme"], table, policy)
    assert markers(disclosed) == expected
    assert {r: disclosed.summary["rule_hits"][r] for r in hits} == hits
    assert disclosed.summary["dominance_checked"] == ["amount"]
    assert disclosed.table.column_names == ["scheme_code", "persons", "amount", MARKER_COLUMN]


def test_a_single_helper_column_is_refused(models):
    table = by_scheme([20], amount__top1=pa.array([50], pa.int64()))
    with pytest.raises(DisclosureError) as caught:
        apply_disclosure(models["by_scheme"], table, DEFAULT)
    assert caught.value.code == "BAD_HELPER" and "amount__top2" in caught.value.public


def test_a_negative_helper_value_is_refused(models):
    table = by_scheme([20], amount__top1=pa.array([-50], pa.int64()),
                      amount__top2=pa.array([None], pa.int64()))
    with pytest.raises(DisclosureError, match="BAD_HELPER"):
        apply_disclosure(models["by_scheme"], table, DEFAULT)


def test_only_declared_columns_leave_in_declared_order(models):
    table = by_scheme([20, 30], note=pa.array(["x", "y"]))
    reordered = table.select(["amount", "note", "persons", "scheme_code"])
    disclosed = apply_disclosure(models["by_scheme"], reordered, DEFAULT)
    assert disclosed.table.column_names == ["scheme_code", "persons", "amount", MARKER_COLUMN]
    assert disclosed.table.schema.field(MARKER_COLUMN).type == pa.string()


def test_a_local_only_column_never_leaves(models):
    model = models["by_scheme"]
    leaky = dataclasses.replace(model, output=Output("aggregate", (
        *model.output.columns, OutputColumn("id_no", "VARCHAR", "dimension", "ID."))))
    table = by_scheme([20], id_no=pa.array(["440103195003120016"]))
    with pytest.raises(DisclosureError) as caught:
        apply_disclosure(leaky, table, DEFAULT)
    assert caught.value.code == "LOCAL_ONLY_COLUMN"
    assert "id_no" in caught.value.public and "4401031950" not in caught.value.public
    assert isinstance(caught.value, NodeError)


def test_free_text_is_refused_not_truncated(models):
    table = by_scheme([20, 30])
    long_text = "甲" * 65
    table = table.set_column(0, "scheme_code", pa.array(["S0", long_text]))
    with pytest.raises(DisclosureError) as caught:
        apply_disclosure(models["by_scheme"], table, DEFAULT)
    assert caught.value.code == "FREE_TEXT"
    assert "disclosure.max_string_length" in caught.value.public
    assert long_text not in str(caught.value)
    roomy = dataclasses.replace(DEFAULT, max_string_length=65)
    kept = apply_disclosure(models["by_scheme"], table, roomy)
    assert kept.table.column("scheme_code").to_pylist()[1] == long_text


def test_too_many_rows_are_refused_not_truncated(models):
    table = by_scheme([20, 30, 40])
    with pytest.raises(DisclosureError) as caught:
        apply_disclosure(models["by_scheme"], table, dataclasses.replace(DEFAULT, max_rows=2))
    assert caught.value.code == "TOO_MANY_ROWS"
    assert "disclosure.max_rows" in caught.value.public and "3" not in caught.value.public
    assert caught.value.detail == "3 rows"
    assert apply_disclosure(models["by_scheme"], table,
                            dataclasses.replace(DEFAULT, max_rows=3)).table.num_rows == 3


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda t: t.drop_columns(["amount"]), "MISSING_COLUMN"),
        (lambda t: t.set_column(0, "scheme_code", pa.array([b"S0"], pa.binary())),
         "TYPE_MISMATCH"),
        (lambda t: t.set_column(1, "persons", pa.array([20.0])), "TYPE_MISMATCH"),
        (lambda t: t.set_column(1, "persons", pa.array([None], pa.int64())), "BAD_COUNT"),
        (lambda t: t.set_column(1, "persons", pa.array([-1], pa.int64())), "BAD_COUNT"),
        (lambda t: t.set_column(2, "amount", pa.array([float("nan")])), "TYPE_MISMATCH"),
        (lambda t: pa.concat_tables([t, t]), "DUPLICATE_CELL"),
    ],
)
def test_malformed_outputs_are_refused(models, change, code):
    with pytest.raises(DisclosureError) as caught:
        apply_disclosure(models["by_scheme"], change(by_scheme([20])), DEFAULT)
    assert caught.value.code == code


def test_a_declared_marker_column_is_refused(models):
    model = models["by_scheme"]
    clash = dataclasses.replace(model, output=Output("aggregate", (
        *model.output.columns, OutputColumn(MARKER_COLUMN, "VARCHAR", "dimension", "Clash."))))
    with pytest.raises(DisclosureError, match="BAD_MODEL"):
        apply_disclosure(clash, by_scheme([20], disclosure=pa.array(["x"])), DEFAULT)


def test_library_model_output_passes(models):
    table = summary_table([("110", month(0), 12, 20, 5000), ("170", month(0), 4, 4, 300)])
    disclosed = apply_disclosure(models["summary"], table, DEFAULT)
    assert markers(disclosed) == [None, "primary"]
    assert disclosed.public_summary == disclosed.summary  # nothing local in an aggregate


def test_the_public_summary_is_json_for_the_receipt(models):
    disclosed = apply_disclosure(models["by_scheme"], by_scheme([3, 20]), DEFAULT)
    assert json.loads(json.dumps(disclosed.public_summary)) == disclosed.public_summary
    assert disclosed.public_summary["settings"] == DEFAULT.settings()
