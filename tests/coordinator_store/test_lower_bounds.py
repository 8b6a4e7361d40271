"""Lower-bound marks on combined aggregates, from the nodes' disclosure markers."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from coordinator.combine import combine


def partial(tmp_path, node_id: str, rows: list[tuple]) -> str:
    table = pa.table({
        "node": pa.array([r[0] for r in rows], pa.string()),
        "dataset": pa.array([r[1] for r in rows], pa.string()),
        "rows": pa.array([r[2] for r in rows], pa.int64()),
        "disclosure": pa.array([r[3] for r in rows], pa.string()),
    })
    path = tmp_path / f"{node_id}.arrows"
    with pa.ipc.new_stream(path, table.schema) as writer:
        writer.write_table(table)
    return str(path)


def test_summed_cells_are_lower_bounds_where_any_node_suppressed(tmp_path):
    partials = {
        "gd": partial(tmp_path, "gd", [("", "a", 50, None), ("", "b", 40, None)]),
        "hn": partial(tmp_path, "hn", [("", "a", None, "primary"), ("", "b", 30, None)]),
    }
    sql = ("SELECT dataset, CAST(sum(rows) AS BIGINT) AS rows FROM partials "
           "GROUP BY dataset ORDER BY dataset")
    combine(sql, partials, tmp_path / "sum.parquet", {}, dimensions=["dataset"])
    got = pq.read_table(tmp_path / "sum.parquet").to_pylist()
    assert got == [
        {"dataset": "a", "rows": 50, "suppressed_parts": 1, "lower_bound": True},
        {"dataset": "b", "rows": 70, "suppressed_parts": 0, "lower_bound": False},
    ]


def test_a_per_node_dimension_filled_at_hq_marks_only_that_nodes_rows(tmp_path):
    partials = {
        "gd": partial(tmp_path, "gd", [("", "a", 50, None)]),
        "hn": partial(tmp_path, "hn", [("", "a", None, "primary")]),
    }
    sql = "SELECT node_id AS node, dataset, rows FROM partials ORDER BY node"
    combine(sql, partials, tmp_path / "per-node.parquet", {}, dimensions=["node", "dataset"])
    got = {r["node"]: r["lower_bound"] for r in pq.read_table(tmp_path / "per-node.parquet")
           .to_pylist()}
    assert got == {"gd": False, "hn": True}


def test_a_class_computed_at_hq_does_not_hide_a_suppressed_part(tmp_path):
    """A dimension every node leaves empty and the combine computes (e.g. an outlier class)
    is left out of the match, so the suppressed cell still marks its row."""
    partials = {}
    for node_id, rows in (("gd", [50, 40]), ("hn", [None, 30])):
        table = pa.table({"dataset": ["a", "b"], "size_class": pa.nulls(2, pa.string()),
                          "rows": pa.array(rows, pa.int64()),
                          "disclosure": pa.array(["primary" if r is None else None
                                                  for r in rows], pa.string())})
        path = tmp_path / f"{node_id}.arrows"
        with pa.ipc.new_stream(path, table.schema) as writer:
            writer.write_table(table)
        partials[node_id] = str(path)
    sql = ("SELECT dataset, CASE WHEN sum(rows) > 60 THEN 'high' ELSE 'low' END AS size_class, "
           "CAST(sum(rows) AS BIGINT) AS rows FROM partials GROUP BY dataset ORDER BY dataset")
    combine(sql, partials, tmp_path / "class.parquet", {}, dimensions=["dataset", "size_class"])
    got = {r["dataset"]: (r["size_class"], r["lower_bound"])
           for r in pq.read_table(tmp_path / "class.parquet").to_pylist()}
    assert got == {"a": ("low", True), "b": ("high", False)}
