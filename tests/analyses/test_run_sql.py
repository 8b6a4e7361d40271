"""run_model_sql: parameters are bound, never pasted; the database reaches nothing else."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from analyses import ModelSQLError, partials_table, run_model_sql
from analyses._sql import select_columns

PEOPLE = pa.table({"name": ["a", "b", "c"], "n": [1, 2, 3]})


def test_named_parameters_are_bound_with_their_types():
    out = run_model_sql(
        "SELECT name, $day AS day, $amount AS amount FROM people WHERE n >= $low ORDER BY n",
        {"people": PEOPLE},
        {"low": 2, "day": dt.date(2024, 1, 1), "amount": decimal.Decimal("1.50")},
    )
    assert out.column("name").to_pylist() == ["b", "c"]
    assert out.column("day").to_pylist() == [dt.date(2024, 1, 1)] * 2
    assert out.column("amount").to_pylist() == [decimal.Decimal("1.50")] * 2


def test_a_value_is_never_read_as_sql():
    hostile = "a' OR '1'='1"
    out = run_model_sql("SELECT count(*) AS n FROM people WHERE name = $who",
                        {"people": PEOPLE}, {"who": hostile})
    assert out.column("n").to_pylist() == [0]


def test_parameters_the_sql_does_not_use_are_ignored():
    out = run_model_sql("SELECT count(*) AS n FROM people", {"people": PEOPLE}, {"unused": 1})
    assert out.column("n").to_pylist() == [3]


def test_a_missing_parameter_is_named():
    with pytest.raises(ModelSQLError, match=r"uses \$low but no value"):
        run_model_sql("SELECT * FROM people WHERE n > $low", {"people": PEOPLE}, {})


def test_files_are_out_of_reach(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("x\n1\n")
    with pytest.raises(ModelSQLError, match="DuckDB failed"):
        run_model_sql(f"SELECT * FROM read_csv('{secret}')", {}, {})


@pytest.mark.parametrize(("sql", "fragment"), [
    ("SELECT 1; SELECT 2", "holds 2 statements"),
    ("CREATE TABLE t AS SELECT 1", "one SELECT"),
    ("SELECT * FROM people WHERE n > ?", "positional"),
    ("SELEC 1", "cannot parse"),
])
def test_only_one_select_runs(sql, fragment):
    with pytest.raises(ModelSQLError, match=fragment):
        run_model_sql(sql, {"people": PEOPLE}, {})


def test_partials_put_node_id_first():
    a = pa.table({"k": ["x"], "v": [1]})
    b = pa.table({"k": ["x", "y"], "v": [2, 3]})
    partials = partials_table({"gd": a, "js": b})
    assert partials.column_names == ["node_id", "k", "v"]
    assert partials.column("node_id").to_pylist() == ["gd", "js", "js"]
    summed = run_model_sql("SELECT k, sum(v) AS v FROM partials GROUP BY k ORDER BY k",
                           {"partials": partials}, {})
    assert summed.to_pylist() == [{"k": "x", "v": 3}, {"k": "y", "v": 3}]


def test_partials_need_one_schema():
    with pytest.raises(ModelSQLError, match="one schema"):
        partials_table({"gd": pa.table({"k": ["x"]}), "js": pa.table({"k": [1]})})


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name, n, n * 2 AS twice FROM people ORDER BY n DESC",
        "SELECT name, n, n * 2 AS twice FROM people ORDER BY n DESC;",
        "SELECT name, n, n * 2 AS twice FROM people ORDER BY n DESC -- 最后\n",
        "-- 注释; with a semicolon\nSELECT name, n, n * 2 AS twice FROM people\n"
        "ORDER BY n DESC; -- 结束\n",
        "SELECT ';' || name AS name, n, 0 AS twice FROM people ORDER BY n DESC /* ; */",
    ],
    ids=["plain", "semicolon", "line-comment", "utf8-comments", "semicolon-in-literal"],
)
def test_select_columns_keeps_the_named_columns_and_the_order(sql):
    wrapped = select_columns(sql, ["name", "n"])
    out = run_model_sql(wrapped, {"people": PEOPLE}, {})
    assert out.column_names == ["name", "n"]
    assert out.column("n").to_pylist() == [3, 2, 1]
    assert out.column("name").to_pylist() == run_model_sql(sql, {"people": PEOPLE}, {}).column(
        "name").to_pylist()


def test_select_columns_keeps_parameters_bound():
    wrapped = select_columns("SELECT name, n FROM people WHERE n >= $low ORDER BY n", ["name"])
    out = run_model_sql(wrapped, {"people": PEOPLE}, {"low": 3})
    assert out.to_pylist() == [{"name": "c"}]
