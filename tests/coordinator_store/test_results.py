"""The result store: partials in, Parquet results out in bounded Arrow IPC chunks."""

from __future__ import annotations

import hashlib
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coordinator.results import (
    MAX_CHUNK,
    ResultError,
    load_provenance,
    partial_path,
    read_partial,
    result_chunks,
    result_path,
    write_partial,
    write_provenance,
)

MiB = 1024 * 1024


def big_table(rows: int = 350_000) -> pa.Table:
    """About 14 MiB of ints, decimals-as-text and dates: three times the chunk limit."""
    ids = pa.array(range(rows), pa.int64())
    return pa.table({
        "id": ids,
        "scheme_code": pa.array([f"{110 + i % 7}-{i:012d}" for i in range(rows)]),
        "amount": pa.array([i * 0.25 for i in range(rows)], pa.float64()),
        "period": pa.array([(19_000 + i % 365) for i in range(rows)], pa.int32()).cast(
            pa.date32()),
    })


def ipc_bytes(table: pa.Table, batch_rows: int = 10_000) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    return sink.getvalue()


def pieces(data: bytes, size: int):
    for offset in range(0, len(data), size):
        yield data[offset:offset + size]


def test_a_large_partial_round_trips_through_chunks(tmp_path):
    table = big_table()
    data = ipc_bytes(table)
    assert len(data) > 3 * MAX_CHUNK

    path, rows, digest = write_partial(tmp_path, "t1", "gd", pieces(data, MAX_CHUNK))

    assert path == partial_path(tmp_path, "t1", "gd")
    assert path == tmp_path / "results" / "t1" / "partials" / "gd.arrows"
    assert rows == table.num_rows
    assert digest == hashlib.sha256(data).hexdigest()
    assert path.read_bytes() == data
    assert read_partial(path).equals(table)
    assert [p.name for p in path.parent.iterdir()] == ["gd.arrows"]


def test_an_empty_partial_keeps_its_schema(tmp_path):
    table = big_table(10).slice(0, 0)
    path, rows, _ = write_partial(tmp_path, "t1", "gx", [ipc_bytes(table)])
    assert rows == 0
    assert read_partial(path).schema.equals(table.schema)


def test_bytes_that_are_not_arrow_are_refused_and_not_stored(tmp_path):
    data = ipc_bytes(big_table(1000))
    with pytest.raises(ResultError, match="not a valid Arrow IPC stream"):
        write_partial(tmp_path, "t1", "gd", [data[: len(data) // 2]])
    with pytest.raises(ResultError, match="not a valid Arrow IPC stream"):
        write_partial(tmp_path, "t1", "gd", [b"\x00garbage" * 100])
    folder = tmp_path / "results" / "t1" / "partials"
    assert list(folder.iterdir()) == []


def test_an_oversized_partial_is_refused_and_not_stored(tmp_path):
    data = ipc_bytes(big_table(50_000))
    with pytest.raises(ResultError, match="passes the limit of 1048576 bytes"):
        write_partial(tmp_path, "t1", "gd", pieces(data, 256 * 1024), max_bytes=MiB)
    assert list((tmp_path / "results" / "t1" / "partials").iterdir()) == []


def test_a_broken_stream_leaves_the_previous_partial(tmp_path):
    first = ipc_bytes(big_table(100))
    path, _, _ = write_partial(tmp_path, "t1", "gd", [first])

    def broken():
        yield first[:100]
        raise ConnectionError("stream cancelled")

    with pytest.raises(ConnectionError):
        write_partial(tmp_path, "t1", "gd", broken())
    assert path.read_bytes() == first
    assert [p.name for p in path.parent.iterdir()] == ["gd.arrows"]


@pytest.mark.parametrize("task_id,node_id", [("../t1", "gd"), ("t1", "../../etc"),
                                             ("t1", ".hidden"), ("", "gd"), ("t1", "a/b")])
def test_ids_that_would_escape_the_results_folder_are_refused(tmp_path, task_id, node_id):
    with pytest.raises(ResultError, match="cannot name a file"):
        write_partial(tmp_path, task_id, node_id, [ipc_bytes(big_table(1))])
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("*"))


def test_a_large_result_streams_in_chunks_of_at_most_4_mib(tmp_path):
    table = big_table()
    path = result_path(tmp_path, "t1")
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)

    chunks = list(result_chunks(path))

    assert len(chunks) >= 3
    assert all(0 < len(c) <= MAX_CHUNK for c in chunks)
    assert pa.ipc.open_stream(b"".join(chunks)).read_all().equals(table)


def test_result_chunks_honour_a_small_limit_and_a_single_wide_row(tmp_path):
    table = pa.table({"blob": [b"x" * (3 * 1000), b"y"], "n": [1, 2]})
    path = tmp_path / "r.parquet"
    pq.write_table(table, path)
    chunks = list(result_chunks(path, max_chunk=1000))
    assert all(len(c) <= 1000 for c in chunks)
    assert pa.ipc.open_stream(b"".join(chunks)).read_all().equals(table)


def test_an_empty_result_streams_its_schema(tmp_path):
    table = big_table(5).slice(0, 0)
    path = tmp_path / "r.parquet"
    pq.write_table(table, path)
    chunks = list(result_chunks(path))
    assert len(chunks) == 1
    streamed = pa.ipc.open_stream(chunks[0]).read_all()
    assert streamed.num_rows == 0 and streamed.schema.equals(table.schema)


def test_a_missing_or_broken_result_is_reported(tmp_path):
    with pytest.raises(ResultError, match="missing"):
        list(result_chunks(tmp_path / "nope.parquet"))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(ResultError, match="not a Parquet file"):
        list(result_chunks(bad))


def test_provenance_is_written_and_loaded(tmp_path):
    provenance = {"task_id": "t1", "state": "partial", "nodes": [{"node_id": "gd",
                  "state": "done"}, {"node_id": "gx", "state": "missing"}], "title": "养老金"}
    path = write_provenance(tmp_path, "t1", provenance)
    assert path == tmp_path / "results" / "t1" / "provenance.json"
    assert load_provenance(tmp_path, "t1") == provenance
    assert json.loads(path.read_text(encoding="utf-8")) == provenance
    write_provenance(tmp_path, "t1", {"state": "failed"})
    assert load_provenance(tmp_path, "t1") == {"state": "failed"}
    assert [p.name for p in path.parent.iterdir()] == ["provenance.json"]


def test_provenance_that_json_cannot_hold_is_refused_and_the_old_one_kept(tmp_path):
    write_provenance(tmp_path, "t1", {"state": "complete"})
    with pytest.raises(TypeError):
        write_provenance(tmp_path, "t1", {"receipt": b"raw bytes"})
    assert load_provenance(tmp_path, "t1") == {"state": "complete"}


def test_loading_the_provenance_of_an_unfinished_task_says_what_to_do(tmp_path):
    with pytest.raises(ResultError, match="fedaudit task watch t9"):
        load_provenance(tmp_path, "t9")
