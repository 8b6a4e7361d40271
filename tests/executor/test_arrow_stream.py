"""Arrow IPC results cut into bounded chunks round-trip exactly, with the whole stream's digest."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.arrow_stream import DEFAULT_MAX_BYTES, ArrowStreamError, ipc_chunks, read_ipc
from node.executor import execute, execute_batches, output_schema

from .conftest import SUMMARY

SCHEMA = pa.schema([("id", pa.int64()), ("label", pa.string()), ("amount", pa.decimal128(38, 2))])


def table_of(rows: int, label_bytes: int = 8) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "label": pa.array([f"{i:0{label_bytes}d}" for i in range(rows)], pa.string()),
            "amount": pa.array([i * 100 for i in range(rows)], pa.int64()).cast(
                pa.decimal128(38, 2)),
        },
        schema=SCHEMA,
    )


def stream(data, schema=SCHEMA, max_bytes=DEFAULT_MAX_BYTES):
    chunks = ipc_chunks(data, schema, max_bytes)
    pieces = list(chunks)
    return chunks, pieces


@pytest.mark.parametrize("rows", [0, 1, 1000])
def test_small_tables_round_trip(rows):
    table = table_of(rows)
    chunks, pieces = stream(table)
    assert pieces and all(0 < len(p) <= DEFAULT_MAX_BYTES for p in pieces)
    assert chunks.digest == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert chunks.rows == rows and chunks.nbytes == sum(map(len, pieces))
    back = read_ipc(pieces, expected_digest=chunks.digest)
    assert back.schema.equals(SCHEMA) and back.equals(table)


def test_empty_iterable_of_batches_is_a_valid_empty_stream():
    chunks, pieces = stream([])
    back = read_ipc(pieces, expected_digest=chunks.digest)
    assert back.num_rows == 0 and back.schema.equals(SCHEMA)


def test_more_than_ten_mebibytes_round_trip_in_bounded_chunks():
    table = table_of(200_000, label_bytes=64)
    assert table.nbytes > 10 * 1024 * 1024
    chunks, pieces = stream(table)
    assert len(pieces) >= 3
    assert all(0 < len(p) <= DEFAULT_MAX_BYTES for p in pieces)
    assert chunks.digest == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert read_ipc(pieces, expected_digest=chunks.digest).equals(table)


def test_a_batch_bigger_than_a_chunk_is_sliced():
    table = table_of(100_000, label_bytes=64).combine_chunks()
    assert len(table.to_batches()) == 1 and table.nbytes > 4 * 100_000
    chunks, pieces = stream(table, max_bytes=100_000)
    assert all(0 < len(p) <= 100_000 for p in pieces)
    back = read_ipc(pieces, expected_digest=chunks.digest)
    assert back.equals(table)
    assert back.column("id").num_chunks > 1  # It was written as several record batches.


def test_a_single_row_bigger_than_a_chunk_still_fits():
    table = pa.table({"id": [1], "label": ["x" * 50_000], "amount": pa.array(
        [0], pa.int64()).cast(pa.decimal128(38, 2))}, schema=SCHEMA)
    chunks, pieces = stream(table, max_bytes=4096)
    assert len(pieces) > 10 and all(0 < len(p) <= 4096 for p in pieces)
    assert read_ipc(pieces, expected_digest=chunks.digest).equals(table)


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=300),
    text=st.text(max_size=40),
    max_bytes=st.integers(1, 5000),
    batch_rows=st.integers(1, 50),
)
def test_any_table_round_trips_with_any_chunk_size(ids, text, max_bytes, batch_rows):
    table = pa.table({"id": pa.array(ids, pa.int64()),
                      "label": pa.array([text] * len(ids), pa.string()),
                      "amount": pa.array([None] * len(ids), pa.decimal128(38, 2))}, schema=SCHEMA)
    chunks, pieces = stream(table.to_batches(max_chunksize=batch_rows), max_bytes=max_bytes)
    assert all(0 < len(p) <= max_bytes for p in pieces)
    assert chunks.digest == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert read_ipc(pieces, expected_digest=chunks.digest).equals(table)


def test_digest_is_not_ready_before_the_end():
    chunks = ipc_chunks(table_of(10), SCHEMA, max_bytes=64)
    next(chunks)
    with pytest.raises(ArrowStreamError, match="exhaust"):
        _ = chunks.digest


def test_batch_of_another_schema_is_refused():
    other = pa.record_batch({"id": pa.array([1], pa.int32())})
    with pytest.raises(ArrowStreamError, match="schema"):
        list(ipc_chunks([other], SCHEMA))
    with pytest.raises(ValueError):
        ipc_chunks([], SCHEMA, max_bytes=0)


def test_changed_cut_or_padded_streams_are_refused():
    table = table_of(500)
    chunks, pieces = stream(table, max_bytes=1000)
    whole = b"".join(pieces)
    with pytest.raises(ArrowStreamError, match="digest"):
        read_ipc(pieces, expected_digest=hashlib.sha256(b"other").hexdigest())
    flipped = bytearray(whole)
    flipped[len(whole) // 2] ^= 0x01
    with pytest.raises(ArrowStreamError):
        read_ipc([bytes(flipped)], expected_digest=chunks.digest)
    with pytest.raises(ArrowStreamError):
        read_ipc(pieces[:-1])  # Cut before the end-of-stream marker.
    with pytest.raises(ArrowStreamError):
        read_ipc([whole[: len(whole) // 2]])
    with pytest.raises(ArrowStreamError, match="after the end"):
        read_ipc([whole, b"\0" * 8])
    with pytest.raises(ArrowStreamError):
        read_ipc([])
    with pytest.raises(ArrowStreamError):
        read_ipc([b"not arrow at all"])


def test_executor_output_streams_and_reads_back(snapshots, policy):
    batches = execute_batches(SUMMARY, "province", {}, snapshots, policy, batch_rows=2)
    chunks = ipc_chunks(batches, output_schema(SUMMARY), max_bytes=256)
    pieces = list(chunks)
    assert all(0 < len(p) <= 256 for p in pieces)
    back = read_ipc(pieces, expected_digest=chunks.digest)
    assert back.equals(execute(SUMMARY, "province", {}, snapshots, policy))


@settings(max_examples=60)
@given(ids=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=400),
       max_bytes=st.integers(200, 4000), cuts=st.lists(st.integers(1, 3000), max_size=20))
def test_a_stream_cut_anywhere_else_reads_the_same(ids, max_bytes, cuts):
    """Chunks are cut at message ends and read in place; bytes re-cut at any other points
    (as a network or another sender may) read to the same table, with the same digest."""
    table = pa.table({"id": pa.array(ids, pa.int64()),
                      "label": pa.array([str(i) for i in ids], pa.string()),
                      "amount": pa.array([None] * len(ids), pa.decimal128(38, 2))}, schema=SCHEMA)
    chunks, pieces = stream(table.to_batches(max_chunksize=37), max_bytes=max_bytes)
    data = b"".join(pieces)
    points = sorted({c % len(data) for c in cuts} - {0})
    recut = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert read_ipc([memoryview(p) for p in recut], expected_digest=chunks.digest).equals(table)


def test_chunks_made_without_a_digest_have_none():
    chunks, pieces = stream(table_of(10))
    assert len(chunks.digest) == 64
    plain = ipc_chunks(table_of(10), SCHEMA, digest=False)
    assert b"".join(plain) == b"".join(pieces)
    with pytest.raises(ArrowStreamError, match="digest=False"):
        _ = plain.digest
