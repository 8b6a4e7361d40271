"""The region filter: which rows of a real Parquet result an office receives, streamed."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator._scope import RowScope, region_columns, scoped_chunks, scoped_rows
from coordinator.sharing import SharingError, region_matches
from tests.sharing.helpers import NODE_REGIONS, read_table


def write(tmp_path, table: pa.Table, name: str = "result.parquet"):
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def scoped(path, regions, task_id="t1"):
    scope = RowScope(tuple(regions), NODE_REGIONS)
    table = read_table(scoped_chunks(path, scope, task_id))
    return scope, table


@pytest.mark.parametrize(("names", "expected"), [
    (["scheme_code", "period", "persons"], []),
    (["region", "persons"], ["region"]),
    (["pool_admdvs", "insu_admdvs", "x"], ["pool_admdvs", "insu_admdvs"]),
    (["node", "dataset"], ["node"]),
    (["node_id", "REGION"], ["node_id", "REGION"]),
])
def test_region_columns_are_found_by_name(names, expected):
    assert region_columns(names) == expected


def test_rows_of_a_region_column_are_kept_by_prefix(tmp_path):
    table = pa.table({"pool_admdvs": ["440100", "440300", "450100", "460100", None],
                      "amount": [1, 2, 3, 4, 5]})
    path = write(tmp_path, table)
    scope, got = scoped(path, ["44", "460100"])
    assert got.to_pylist() == [{"pool_admdvs": "440100", "amount": 1},
                               {"pool_admdvs": "440300", "amount": 2},
                               {"pool_admdvs": "460100", "amount": 4}]
    assert scoped_rows(path, scope, "t1") == 3
    assert got.schema == table.schema


def test_rows_naming_their_node_follow_the_node_region(tmp_path):
    table = pa.table({"node": ["gd", "gx", "deaths", "unknown"], "rows": [1, 2, 3, 4]})
    path = write(tmp_path, table)
    _, got = scoped(path, ["45"])
    assert got.to_pylist() == [{"node": "gx", "rows": 2}]


def test_a_row_is_kept_only_if_every_region_column_is_inside(tmp_path):
    table = pa.table({"node_id": ["gd", "gd", "gx"],
                      "region": ["440100", "450100", "450100"], "n": [1, 2, 3]})
    path = write(tmp_path, table)
    _, got = scoped(path, ["44"])
    assert got.column("n").to_pylist() == [1]
    _, both = scoped(path, ["44", "45"])
    assert both.column("n").to_pylist() == [1, 2, 3]


def test_integer_region_codes_are_matched_as_text(tmp_path):
    path = write(tmp_path, pa.table({"region": pa.array([440100, 450100], pa.int32())}))
    _, got = scoped(path, ["45"])
    assert got.column("region").to_pylist() == [450100]


def test_a_limited_scope_on_a_result_without_region_column_is_refused(tmp_path):
    path = write(tmp_path, pa.table({"scheme_code": ["110"], "persons": [12]}))
    with pytest.raises(SharingError, match="no region column") as caught:
        scoped_rows(path, RowScope(("44",), NODE_REGIONS), "t1")
    assert caught.value.code == "FORBIDDEN"
    with pytest.raises(SharingError):
        list(scoped_chunks(path, RowScope(("44",), NODE_REGIONS), "t1"))


def test_an_unlimited_scope_streams_the_whole_result(tmp_path):
    table = pa.table({"scheme_code": ["110", "120"], "persons": [12, 30]})
    path = write(tmp_path, table)
    scope, got = scoped(path, [])
    assert got.equals(table)
    assert scoped_rows(path, scope, "t1") == 2


def test_no_row_inside_still_streams_the_schema(tmp_path):
    table = pa.table({"region": ["110000"], "persons": [12]})
    path = write(tmp_path, table)
    _, got = scoped(path, ["44"])
    assert got.num_rows == 0 and got.schema == table.schema


def test_a_large_result_filters_in_bounded_chunks_and_equals_the_sql_filter(tmp_path):
    rows = 200_000
    codes = ["440100", "450200", "460300", "110000"]
    table = pa.table({"pool_admdvs": [codes[i % 4] for i in range(rows)],
                      "label": [f"row-{i:08d}-" + "x" * 20 for i in range(rows)]})
    path = write(tmp_path, table)
    chunks = list(scoped_chunks(path, RowScope(("44", "45"), NODE_REGIONS), "t1",
                                max_chunk=256 * 1024))
    assert len(chunks) > 3 and all(len(c) <= 256 * 1024 for c in chunks)
    got = read_table(chunks)
    expected = duckdb.sql(f"SELECT * FROM '{path}' WHERE pool_admdvs LIKE '44%' "
                          "OR pool_admdvs LIKE '45%'").to_arrow_table()
    assert got.num_rows == rows // 2
    assert got.to_pylist() == expected.to_pylist()


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(codes=st.lists(st.one_of(st.none(), st.sampled_from(
           ["440100", "440300", "450100", "460000", "110000"])), min_size=1, max_size=40),
       regions=st.lists(st.sampled_from(["44", "45", "46", "11", "440300"]), max_size=3))
def test_the_filter_keeps_exactly_the_rows_inside(tmp_path, codes, regions):
    table = pa.table({"region": pa.array(codes, pa.string()), "i": list(range(len(codes)))})
    path = write(tmp_path, table, "prop.parquet")
    scope, got = scoped(path, sorted(set(regions)))
    expected = [row for row in table.to_pylist()
                if not regions or region_matches(row["region"], set(regions))]
    assert got.to_pylist() == expected
    assert scoped_rows(path, scope, "t1") == len(expected)
