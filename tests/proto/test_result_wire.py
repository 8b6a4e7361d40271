"""FetchResult's chunks are serialized and read by hand on the hot path: the bytes must be
exactly protobuf's, and anything else must still be read by protobuf."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from coordinator.client import _result_chunk
from coordinator.serde import result_chunk_wire, serialize_result_chunk
from proto import fedaudit_pb2 as pb

LENGTHS = st.one_of(st.integers(0, 300), st.sampled_from([127, 128, 16_383, 16_384, 70_000]))


@given(length=LENGTHS, field=st.sampled_from(["provenance_json", "arrow_chunk"]))
def test_hand_made_bytes_equal_protobufs_and_read_back_in_place(length, field):
    payload = bytes(range(256)) * (length // 256) + bytes(length % 256)
    wire = result_chunk_wire(**{field: payload})
    assert wire == pb.ResultChunk(**{field: payload}).SerializeToString()
    name, view = _result_chunk(wire)
    assert (name, bytes(view)) == (field, payload)
    assert isinstance(view, memoryview) and view.obj is wire  # in place, not a copy


def test_other_messages_fall_back_to_protobuf():
    # Both fields set in one message (not what the coordinator sends): the last one wins.
    both = result_chunk_wire(provenance_json=b"{}") + result_chunk_wire(arrow_chunk=b"abc")
    assert [(n, bytes(v)) for n, v in [_result_chunk(both)]] == [("arrow_chunk", b"abc")]
    assert _result_chunk(b"")[0] == "arrow_chunk" and bytes(_result_chunk(b"")[1]) == b""
    with pytest.raises(DecodeError):
        _result_chunk(b"\x12\x05ab")  # says 5 bytes, holds 2


def test_exactly_one_field_and_protobuf_messages_serialize_as_usual():
    with pytest.raises(ValueError):
        result_chunk_wire()
    with pytest.raises(ValueError):
        result_chunk_wire(provenance_json=b"", arrow_chunk=b"")
    message = pb.ResultChunk(arrow_chunk=b"x")
    assert serialize_result_chunk(message) == message.SerializeToString()
    assert serialize_result_chunk(b"\x12\x01x") == b"\x12\x01x"
