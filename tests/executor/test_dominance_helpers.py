"""The executor lets a dominance measure's helper columns out of the sandbox, and nothing else."""

from __future__ import annotations

import decimal

import pyarrow as pa
import pytest

from node.executor import ExecutionError, execute, output_schema

from .conftest import SUMMARY

#: Per scheme: persons, the net amount and its two largest per-person contributions.
PER_PERSON = """
WITH per_person AS (
    SELECT scheme_code, id_no, sum(amount) AS amount
    FROM benefit_payment GROUP BY scheme_code, id_no
)
SELECT scheme_code, count(*) AS persons, sum(amount) AS amount{helpers}
FROM per_person GROUP BY scheme_code ORDER BY scheme_code
"""
HELPERS = ", max(abs(amount), 2)[1] AS amount__top1, max(abs(amount), 2)[2] AS amount__top2"


def test_the_library_model_declares_its_helpers_in_the_output_schema():
    schema = output_schema(SUMMARY)
    assert schema.names[-2:] == ["amount__top1", "amount__top2"]
    assert schema.field("amount__top1").type == schema.field("amount").type
    assert schema.field("amount__top2").type == schema.field("amount").type


@pytest.mark.parametrize("amount_type", ["DECIMAL(38,2)", "DOUBLE"])
def test_helpers_come_out_after_the_declared_columns_as_the_measure_type(
        models, snapshots, policy, amount_type):
    model = models("helpers", PER_PERSON.format(helpers=HELPERS), dominance=True,
                   amount_type=amount_type)
    table = execute(model, "province", {}, snapshots, policy)
    assert table.schema.names == ["scheme_code", "persons", "amount", "amount__top1",
                                  "amount__top2"]
    assert table.schema.equals(output_schema(model))
    assert table.schema.field("amount__top1").type == table.schema.field("amount").type
    rows = {r["scheme_code"]: r for r in table.to_pylist()}
    # 110 over all months: …0016 3100 + 3200 + 3200 = 9500, …0029 2800 + 150 = 2950.
    number = decimal.Decimal if amount_type.startswith("DECIMAL") else float
    assert (rows["110"]["amount__top1"], rows["110"]["amount__top2"]) == (number("9500.00"),
                                                                          number("2950.00"))
    # 170: …0039 180 + 45.50 + 180 = 405.50, …0049 180 - 180 = 0.
    assert (rows["170"]["amount__top1"], rows["170"]["amount__top2"]) == (number("405.50"),
                                                                          number("0.00"))


@pytest.mark.parametrize(
    ("name", "helpers", "why"),
    [
        ("absent", "", "the helpers of a dominance measure left out"),
        ("half", ", max(abs(amount)) AS amount__top1", "one helper without its pair"),
        ("swapped", ", max(abs(amount), 2)[2] AS amount__top2, "
                    "max(abs(amount), 2)[1] AS amount__top1", "helpers out of order"),
        ("first", "", "helpers before the declared columns"),
        ("text", ", CAST(max(abs(amount)) AS VARCHAR) AS amount__top1, "
                 "CAST(NULL AS VARCHAR) AS amount__top2", "a helper as text"),
        ("extra", HELPERS + ", min(id_no) AS amount__top3", "a column beyond the helpers"),
    ],
)
def test_a_dominance_model_returns_exactly_its_helpers(models, snapshots, policy, name, helpers,
                                                       why):
    sql = PER_PERSON.format(helpers=helpers)
    if name == "first":
        sql = sql.replace("SELECT scheme_code, count(*)",
                          "SELECT max(abs(amount)) AS amount__top1, NULL AS amount__top2, "
                          "scheme_code, count(*)")
    model = models(name, sql, dominance=True)
    with pytest.raises(ExecutionError) as caught:
        execute(model, "province", {}, snapshots, policy)
    assert caught.value.code == "OUTPUT_MISMATCH", why
    if name in ("absent", "half"):
        assert "amount__top1" in caught.value.public and "dominance" in caught.value.public


def test_a_model_without_dominance_cannot_return_helpers(models, snapshots, policy):
    model = models("undeclared", PER_PERSON.format(helpers=HELPERS))
    assert not model.output.helpers
    with pytest.raises(ExecutionError) as caught:
        execute(model, "province", {}, snapshots, policy)
    assert caught.value.code == "OUTPUT_MISMATCH"


def test_the_executor_runs_node_sql_not_the_declared_view(snapshots, policy):
    # `sql["province"]` selects the declared columns only; the node runs `node_sql`.
    assert SUMMARY.sql["province"] != SUMMARY.node_sql["province"]
    table = execute(SUMMARY, "province", {}, snapshots, policy)
    assert "amount__top1" in table.column_names
    assert pa.types.is_decimal(table.schema.field("amount__top2").type)
