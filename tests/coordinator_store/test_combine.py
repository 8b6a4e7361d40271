"""The combine step: aggregating the node partials equals aggregating the union directly."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyses import load_model, run_model_sql
from coordinator.combine import CombineError, combine
from coordinator.results import write_partial

MODEL = Path(__file__).resolve().parents[2] / "analyses" / "models" / "fund" / "benefit_summary"

SUMS_SQL = """
SELECT k, CAST(sum(s) AS BIGINT) AS s, CAST(sum(n) AS BIGINT) AS n
FROM partials GROUP BY k ORDER BY k
"""

PARTIAL_SCHEMA = pa.schema([("k", pa.string()), ("s", pa.int64()), ("n", pa.int64())])


def ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def store_partials(home: Path, task_id: str, tables: dict[str, pa.Table]) -> dict[str, Path]:
    return {node: write_partial(home, task_id, node, [ipc(t)])[0] for node, t in tables.items()}


def node_sums(rows: list[tuple[str, int]]) -> pa.Table:
    """What a node releases: per key, the sum of its values and its row count."""
    sums, counts = Counter(), Counter()
    for key, value in rows:
        sums[key] += value
        counts[key] += 1
    keys = sorted(counts)
    return pa.table({"k": keys, "s": [sums[k] for k in keys], "n": [counts[k] for k in keys]},
                    schema=PARTIAL_SCHEMA)


node_rows = st.lists(st.tuples(st.sampled_from(["110", "120", "170", "o'k"]),
                               st.integers(-10**12, 10**12)), max_size=25)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["gd", "gx", "deaths", "hq-1"]), node_rows,
                       min_size=1, max_size=4))
def test_combining_node_sums_equals_summing_the_union(data):
    union = [row for rows in data.values() for row in rows]
    with tempfile.TemporaryDirectory() as home:
        paths = store_partials(Path(home), "t1", {n: node_sums(r) for n, r in data.items()})
        out = Path(home) / "results" / "t1" / "result.parquet"

        rows = combine(SUMS_SQL, paths, out, {})

        result = pq.read_table(out)
    expected = node_sums(union)
    assert rows == expected.num_rows
    assert result.to_pylist() == expected.to_pylist()


def test_the_partials_table_adds_the_node_id_and_keeps_empty_partials(tmp_path):
    paths = store_partials(tmp_path, "t1", {
        "gd": node_sums([("110", 5), ("120", 1)]),
        "gx": node_sums([]),
        "deaths": node_sums([("110", 2)]),
    })
    out = tmp_path / "by_node.parquet"
    sql = "SELECT node_id, typeof(node_id) AS t, count(k) AS cells FROM partials " \
          "GROUP BY ALL ORDER BY node_id"
    assert combine(sql, paths, out, {}) == 2
    assert pq.read_table(out).to_pylist() == [
        {"node_id": "deaths", "t": "VARCHAR", "cells": 1},
        {"node_id": "gd", "t": "VARCHAR", "cells": 2},
    ]
    # Only an empty partial still gives the SQL its columns.
    only_empty = {"gx": paths["gx"]}
    assert combine("SELECT * FROM partials", only_empty, out, {}) == 0
    assert pq.read_table(out).column_names == ["node_id", "k", "s", "n"]


def read_payments(con: duckdb.DuckDBPyConnection, where: str) -> pa.Table:
    """The fixture's benefit payments whose row satisfies `where`, typed for the node SQL."""
    return con.sql(
        "SELECT id_no, pool_admdvs, scheme_code, CAST(period AS DATE) AS period, "
        "CAST(amount AS DECIMAL(18, 2)) AS amount "
        "FROM read_csv($path, header = true, all_varchar = true) WHERE " + where,
        params={"path": str(MODEL / "fixtures" / "province" / "benefit_payment.csv")},
    ).to_arrow_table()


def test_the_benefit_summary_combine_equals_the_query_over_the_union(tmp_path):
    model = load_model(MODEL)
    params = model.bind_parameters({"period_start": dt.date(2023, 12, 1)})
    con = duckdb.connect()
    try:
        # Two provinces that share no person, so distinct counts add up exactly.
        provinces = {
            "gd": read_payments(con, "right(id_no, 1) IN ('0', '2', '4', '6', '8')"),
            "gx": read_payments(con, "right(id_no, 1) NOT IN ('0', '2', '4', '6', '8')"),
        }
        union = read_payments(con, "true")
    finally:
        con.close()
    assert min(t.num_rows for t in provinces.values()) > 0
    partials = {node: run_model_sql(model.sql["province"], {"benefit_payment": table}, params)
                for node, table in provinces.items()}
    out = tmp_path / "result.parquet"

    rows = combine(model.sql["combine"], store_partials(tmp_path, "t1", partials), out, params)

    direct = run_model_sql(model.sql["province"], {"benefit_payment": union}, params)
    assert rows == direct.num_rows > 0
    assert pq.read_table(out).to_pylist() == direct.to_pylist()


@pytest.mark.parametrize("label", ["x' OR 1=1 --", "'); DROP VIEW partials; --", "$label"])
def test_parameters_are_bound_never_pasted(tmp_path, label):
    paths = store_partials(tmp_path, "t1", {"gd": node_sums([("110", 1), ("o'k", 2)])})
    out = tmp_path / "r.parquet"
    sql = "SELECT $label AS label, count(*) AS cells FROM partials WHERE k <> $label"
    assert combine(sql, paths, out, {"label": label, "unused": 1}) == 1
    assert pq.read_table(out).to_pylist() == [{"label": label, "cells": 2}]


def test_a_quote_in_a_parameter_matches_only_itself(tmp_path):
    paths = store_partials(tmp_path, "t1", {"gd": node_sums([("110", 1), ("o'k", 2)])})
    out = tmp_path / "r.parquet"
    assert combine("SELECT k FROM partials WHERE k = $key", paths, out, {"key": "o'k"}) == 1
    assert pq.read_table(out).to_pylist() == [{"k": "o'k"}]


def test_no_partial_at_all_is_an_error(tmp_path):
    out = tmp_path / "r.parquet"
    with pytest.raises(CombineError, match="no node returned a partial"):
        combine(SUMS_SQL, {}, out, {})
    assert not out.exists()


def test_partials_of_different_schemas_are_refused(tmp_path):
    other = pa.table({"k": ["110"], "s": [1.5], "n": [1]})
    paths = store_partials(tmp_path, "t1", {"gd": node_sums([("110", 1)]), "gx": other})
    with pytest.raises(CombineError, match="node gx's partial has columns .*share one schema"):
        combine(SUMS_SQL, paths, tmp_path / "r.parquet", {})


def test_a_partial_with_its_own_node_id_column_is_refused(tmp_path):
    paths = store_partials(tmp_path, "t1", {"gd": pa.table({"node_id": ["gx"], "s": [1]})})
    with pytest.raises(CombineError, match="has a node_id column"):
        combine("SELECT * FROM partials", paths, tmp_path / "r.parquet", {})


def test_a_missing_partial_file_is_named(tmp_path):
    with pytest.raises(CombineError, match="node gd's partial cannot be read"):
        combine(SUMS_SQL, {"gd": tmp_path / "gone.arrows"}, tmp_path / "r.parquet", {})


@pytest.mark.parametrize("sql,message", [
    ("SELECT 1; SELECT 2", "exactly one SELECT"),
    ("DELETE FROM partials", "exactly one SELECT"),
    ("SELEC k FROM partials", "does not parse"),
    ("SELECT k FROM partials WHERE k = $missing", r"uses \$missing"),
    ("SELECT no_such_column FROM partials", "failed in DuckDB"),
])
def test_bad_combine_sql_is_refused_and_writes_nothing(tmp_path, sql, message):
    paths = store_partials(tmp_path, "t1", {"gd": node_sums([("110", 1)])})
    out = tmp_path / "r.parquet"
    with pytest.raises(CombineError, match=message):
        combine(sql, paths, out, {})
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_the_combine_sql_cannot_read_files(tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n", encoding="utf-8")
    paths = store_partials(tmp_path, "t1", {"gd": node_sums([("110", 1)])})
    out = tmp_path / "out" / "r.parquet"
    with pytest.raises(CombineError, match="failed in DuckDB"):
        combine("SELECT * FROM read_csv($path)", paths, out, {"path": str(secret)})
    assert not out.exists()


def test_a_failed_combine_keeps_the_previous_result(tmp_path):
    paths = store_partials(tmp_path, "t1", {"gd": node_sums([("110", 1)])})
    out = tmp_path / "r.parquet"
    combine(SUMS_SQL, paths, out, {})
    before = out.read_bytes()
    with pytest.raises(CombineError):
        combine("SELECT CAST(k || 'x' AS INTEGER) FROM partials", paths, out, {})
    assert out.read_bytes() == before


def test_a_combine_larger_than_its_memory_limit_spills_to_disk(tmp_path):
    rows = 400_000
    tables = {
        node: pa.table({"k": pa.array([f"key-{i:09d}" for i in range(rows)]),
                        "s": pa.array(range(rows), pa.int64()),
                        "n": pa.array([1] * rows, pa.int64())})
        for node in ("gd", "gx")
    }
    paths = store_partials(tmp_path, "t1", tables)
    out = tmp_path / "r.parquet"

    count = combine(SUMS_SQL, paths, out, {}, memory_limit="32MB", threads=1)

    assert count == rows
    result = pq.read_table(out)
    assert result.column("s").to_pylist()[:3] == [0, 2, 4]
    assert set(result.column("n").to_pylist()) == {2}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".combine-spill-")]


def test_a_bad_memory_limit_is_a_combine_error(tmp_path):
    paths = store_partials(tmp_path, "t1", {"gd": node_sums([("110", 1)])})
    with pytest.raises(CombineError, match="memory_limit='lots'"):
        combine(SUMS_SQL, paths, tmp_path / "r.parquet", {}, memory_limit="lots")
    assert not (tmp_path / "r.parquet").exists()
