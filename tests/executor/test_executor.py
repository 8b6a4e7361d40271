"""The executor runs library models over real snapshots and lets only the declared output leave."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import time

import duckdb
import pyarrow as pa
import pytest

from node.executor import ExecutionError, execute, execute_batches, output_schema
from node.policy import Policy

from .conftest import FIXTURES, SUMMARY, make_snapshot, sha256

JAN, FEB = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
PERIOD = {"period_start": JAN, "period_end": FEB}

#: A model body returning the declared columns; `{where}` is filled in per test.
CELLS = """
SELECT scheme_code, count(DISTINCT id_no) AS persons, CAST(sum(amount) AS DECIMAL(38, 2)) AS amount
FROM benefit_payment {where}
GROUP BY scheme_code ORDER BY scheme_code
"""
SCHEME_PARAMETER = """
[[parameter]]
name = "scheme"
type = "string"
description = "A scheme code."
"""


def expected_province() -> list[dict[str, object]]:
    with open(FIXTURES / "expected_province.csv", encoding="utf-8", newline="") as f:
        return [
            {
                "region": row["region"],
                "scheme_code": row["scheme_code"],
                "period": dt.date.fromisoformat(row["period"]),
                "persons": int(row["persons"]),
                "payments": int(row["payments"]),
                "amount": decimal.Decimal(row["amount"]),
                **{name: decimal.Decimal(row[name]) if row[name] else None
                   for name in ("amount__top1", "amount__top2")},
            }
            for row in csv.DictReader(f)
        ]


def test_library_model_gives_its_fixture_output(snapshots, policy):
    table = execute(SUMMARY, "province", PERIOD, snapshots, policy)
    assert table.schema.equals(output_schema(SUMMARY))
    # The dominance helpers of amount come out of the sandbox after the declared columns.
    assert table.schema.names == ["region", "scheme_code", "period", "persons", "payments",
                                  "amount", "amount__top1", "amount__top2"]
    for name in ("amount", "amount__top1", "amount__top2"):
        assert table.schema.field(name).type == pa.decimal128(38, 2)
    assert table.to_pylist() == expected_province()
    tops = {(r["scheme_code"], r["period"]): (r["amount__top1"], r["amount__top2"])
            for r in table.to_pylist()}
    assert tops[("110", JAN)] == (decimal.Decimal("3200.00"), decimal.Decimal("2950.00"))
    assert tops[("110", FEB)] == (decimal.Decimal("3200.00"), None)  # one person


def test_parameters_are_bound_and_defaults_filled(snapshots, policy):
    only_january = execute(SUMMARY, "province", {"period_start": JAN, "period_end": JAN},
                           snapshots, policy)
    assert {row["period"] for row in only_january.to_pylist()} == {JAN}
    everything = execute(SUMMARY, "province", {}, snapshots, policy)
    # The defaults cover all months, so the December 2023 row of the fixture is back.
    assert dt.date(2023, 12, 1) in {row["period"] for row in everything.to_pylist()}


def test_batches_stream_the_same_rows(snapshots, policy):
    batches = list(execute_batches(SUMMARY, "province", PERIOD, snapshots, policy, batch_rows=1))
    assert len(batches) >= 1
    assert all(b.schema.equals(output_schema(SUMMARY)) for b in batches)
    assert pa.Table.from_batches(batches).to_pylist() == expected_province()


def test_snapshot_is_unchanged_by_a_run(snapshot, snapshots, policy):
    before = sha256(snapshot)
    execute(SUMMARY, "province", PERIOD, snapshots, policy)
    assert sha256(snapshot) == before


@pytest.mark.parametrize(
    "value",
    [
        "110' OR '1'='1",
        "110'; DROP TABLE benefit_payment; --",
        "' UNION SELECT id_no, 1, 1 FROM benefit_payment --",
        "$scheme",
        '110" OR "1"="1',
    ],
)
def test_parameter_values_cannot_alter_the_query(models, snapshot, snapshots, policy, value):
    model = models("by_scheme", CELLS.format(where="WHERE scheme_code = $scheme"),
                   SCHEME_PARAMETER)
    before = sha256(snapshot)
    assert execute(model, "province", {"scheme": "110"}, snapshots, policy).num_rows == 1
    assert execute(model, "province", {"scheme": value}, snapshots, policy).num_rows == 0
    assert sha256(snapshot) == before
    # The table is still there: the "DROP TABLE" value was only ever a string.
    assert execute(model, "province", {"scheme": "170"}, snapshots, policy).num_rows == 1


def test_a_parameter_compares_as_its_own_literal_value(models, snapshots, policy):
    quoted = "it's"
    model = models("echo", "SELECT $scheme AS scheme_code, CAST(1 AS BIGINT) AS persons, "
                   "CAST(0 AS DECIMAL(38, 2)) AS amount", SCHEME_PARAMETER)
    assert execute(model, "province", {"scheme": quoted}, snapshots, policy).to_pylist() == [
        {"scheme_code": quoted, "persons": 1, "amount": decimal.Decimal("0.00")}
    ]


@pytest.mark.parametrize(
    ("name", "select", "why"),
    [
        ("extra", "scheme_code, count(*) AS persons, CAST(0 AS DECIMAL(38,2)) AS amount, "
                  "min(id_no) AS who", "an undeclared column"),
        ("missing", "scheme_code, count(*) AS persons", "a declared column left out"),
        ("order", "count(*) AS persons, scheme_code, CAST(0 AS DECIMAL(38,2)) AS amount",
         "columns out of order"),
        ("renamed", "scheme_code, count(*) AS people, CAST(0 AS DECIMAL(38,2)) AS amount",
         "a column under another name"),
        ("text", "scheme_code, CAST(count(*) AS VARCHAR) AS persons, "
                 "CAST(0 AS DECIMAL(38,2)) AS amount", "a count as text"),
        ("number", "CAST(scheme_code AS INTEGER) AS scheme_code, count(*) AS persons, "
                   "CAST(0 AS DECIMAL(38,2)) AS amount", "a dimension as a number"),
        ("float", "scheme_code, count(*) AS persons, sum(amount)::DOUBLE AS amount",
         "a DOUBLE for a DECIMAL"),
        ("overflow", "scheme_code, CAST(count(*) AS HUGEINT) * "
                     "170141183460469231731687303715884105 AS persons, "
                     "CAST(0 AS DECIMAL(38,2)) AS amount", "a count beyond BIGINT"),
    ],
)
def test_only_declared_columns_leave(models, snapshots, policy, name, select, why):
    model = models(name, f"SELECT {select} FROM benefit_payment GROUP BY scheme_code")
    with pytest.raises(ExecutionError) as caught:
        execute(model, "province", {}, snapshots, policy)
    assert caught.value.code == "OUTPUT_MISMATCH", why


def test_results_are_cast_to_the_declared_types(models, snapshots, policy):
    # sum() of BIGINT is HUGEINT and an integer amount is not DECIMAL(38,2): both are cast.
    model = models("casts", "SELECT scheme_code, sum(1) AS persons, sum(2) AS amount "
                   "FROM benefit_payment GROUP BY scheme_code ORDER BY scheme_code")
    table = execute(model, "province", {}, snapshots, policy)
    assert table.schema.equals(output_schema(model))
    assert table.column("persons").to_pylist() == [5, 5]
    assert table.column("amount").to_pylist() == [decimal.Decimal("10.00")] * 2


def test_an_empty_result_keeps_the_declared_schema(models, snapshots, policy):
    model = models("empty", CELLS.format(where="WHERE false"))
    table = execute(model, "province", {}, snapshots, policy)
    assert table.num_rows == 0
    assert table.schema.equals(output_schema(model))


def test_missing_snapshot_is_named(snapshot, tmp_path, policy):
    with pytest.raises(ExecutionError, match="benefit_payment") as caught:
        execute(SUMMARY, "province", PERIOD, {}, policy)
    assert caught.value.code == "MISSING_DATASET"
    gone = {"benefit_payment": tmp_path / "gone.duckdb"}
    with pytest.raises(ExecutionError) as caught:
        execute(SUMMARY, "province", PERIOD, gone, policy)
    assert caught.value.code == "MISSING_DATASET"


def test_snapshot_of_another_dataset_is_refused(tmp_path, policy):
    other = make_snapshot(tmp_path / "other.duckdb", "benefit_payment")
    con = duckdb.connect(str(other))
    con.execute("ALTER TABLE benefit_payment RENAME TO something_else")
    con.close()
    with pytest.raises(ExecutionError, match="no table named benefit_payment") as caught:
        execute(SUMMARY, "province", PERIOD, {"benefit_payment": other}, policy)
    assert caught.value.code == "MISSING_DATASET"


def test_a_file_that_is_no_database_is_refused(tmp_path, policy):
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(ExecutionError) as caught:
        execute(SUMMARY, "province", PERIOD, {"benefit_payment": junk}, policy)
    assert caught.value.code == "MISSING_DATASET"


def test_level_without_sql_and_bad_parameters_are_refused(snapshots, policy):
    with pytest.raises(ExecutionError) as caught:
        execute(SUMMARY, "registry", PERIOD, snapshots, policy)
    assert caught.value.code == "BAD_MODEL"
    # execute_batches checks before it returns, not at the first batch.
    with pytest.raises(ExecutionError):
        execute_batches(SUMMARY, "province", PERIOD, {}, policy)
    with pytest.raises(ExecutionError, match="period_start") as caught:
        execute(SUMMARY, "province", {"period_start": FEB, "period_end": JAN}, snapshots, policy)
    assert caught.value.code == "BAD_PARAMETERS"
    with pytest.raises(ExecutionError) as caught:
        execute(SUMMARY, "province", {"nope": 1}, snapshots, policy)
    assert caught.value.code == "BAD_PARAMETERS"


def test_invalid_policy_limits_are_refused(snapshots):
    with pytest.raises(ExecutionError, match="memory_limit") as caught:
        execute(SUMMARY, "province", PERIOD, snapshots, Policy(memory_limit="2 gigs"))
    assert caught.value.code == "BAD_POLICY"
    with pytest.raises(ExecutionError, match="timeout_seconds") as caught:
        execute(SUMMARY, "province", PERIOD, snapshots, Policy(timeout_seconds=0))
    assert caught.value.code == "BAD_POLICY"


def test_a_query_that_runs_forever_is_stopped(models, snapshots):
    model = models("forever", "SELECT scheme_code, count(*) AS persons, "
                   "CAST(0 AS DECIMAL(38,2)) AS amount "
                   "FROM benefit_payment, range(1000000000000) GROUP BY scheme_code")
    with pytest.raises(ExecutionError, match="time limit") as caught:
        execute(model, "province", {}, snapshots, Policy(timeout_seconds=1))
    assert caught.value.code == "TIMEOUT"
    assert "1 s" in caught.value.public


def test_a_consumer_that_stalls_runs_out_of_time(models, snapshots):
    model = models("stream", "SELECT CAST(range AS VARCHAR) AS scheme_code, "
                   "CAST(range AS BIGINT) AS persons, CAST(0 AS DECIMAL(38,2)) AS amount "
                   "FROM range(100000000)")
    batches = execute_batches(model, "province", {}, snapshots, Policy(timeout_seconds=1),
                              batch_rows=1000)
    assert next(batches).num_rows > 0
    time.sleep(1.5)
    with pytest.raises(ExecutionError) as caught:
        for _ in batches:
            pass
    assert caught.value.code == "TIMEOUT"


def test_memory_limit_stops_a_run(models, snapshots):
    model = models("hungry", "SELECT CAST(range AS VARCHAR) AS scheme_code, "
                   "CAST(range AS BIGINT) AS persons, CAST(0 AS DECIMAL(38,2)) AS amount "
                   "FROM range(200000000) ORDER BY random()")
    with pytest.raises(ExecutionError, match="memory limit") as caught:
        execute(model, "province", {}, snapshots, Policy(memory_limit="64MB", threads=1))
    assert caught.value.code == "OUT_OF_MEMORY"


def test_public_message_carries_no_data(models, snapshots, policy):
    # The SQL fails on a value from the data; DuckDB quotes it, the public text must not.
    model = models("quotes", CELLS.format(where="WHERE CAST(psn_no AS DATE) IS NOT NULL"))
    with pytest.raises(ExecutionError) as caught:
        execute(model, "province", {}, snapshots, policy)
    with open(FIXTURES / "province" / "benefit_payment.csv", encoding="utf-8") as f:
        values = {row["psn_no"] for row in csv.DictReader(f)}
    assert caught.value.code == "SQL_FAILED"
    assert any(value in str(caught.value) for value in values)
    assert not any(value in caught.value.public for value in values)
