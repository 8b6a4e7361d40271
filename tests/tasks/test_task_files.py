"""Task files: serialization round trips and the readable view's consistency."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyses.tasks import (
    SignedTask,
    TaskFileError,
    TaskSignature,
    decode_parameters,
    encode_parameters,
    parse_duration,
    parse_targets,
    task_from_dict,
)
from proto import task_pb2

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
texts = st.text(max_size=40)
values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2,
                min_value=-(10**12), max_value=10**12),
    st.dates(),
    texts,
    st.booleans(),
)
timestamps = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                          timezones=st.just(dt.UTC))


@st.composite
def specs(draw) -> task_pb2.TaskSpec:
    spec = task_pb2.TaskSpec(
        task_id=draw(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)),
        federation=draw(texts),
        analysis_id=draw(texts),
        analysis_version=draw(texts),
        analysis_digest=draw(texts),
        output_kind=draw(st.sampled_from(["aggregate", "tokens", "flags"])),
        parameters=encode_parameters(draw(st.dictionaries(names, values, max_size=5))),
        targets=task_pb2.Targets(node_ids=draw(st.lists(texts, max_size=3)),
                                 selectors=draw(st.lists(texts, max_size=3))),
        purpose=task_pb2.Purpose(project=draw(texts), legal_basis=draw(texts), text=draw(texts)),
        key_originator=draw(texts),
    )
    spec.issued_at.FromDatetime(draw(timestamps))
    spec.expires_at.FromDatetime(draw(timestamps))
    return spec


@given(specs(), st.lists(st.binary(min_size=64, max_size=64), max_size=3))
def test_task_file_round_trip_keeps_the_exact_bytes(spec, raw_signatures):
    spec_bytes = spec.SerializeToString(deterministic=True)
    signatures = tuple(TaskSignature(f"s{i}", f"k{i}", s) for i, s in enumerate(raw_signatures))
    task = SignedTask(spec_bytes, signatures)
    again = task_from_dict(json.loads(task.to_json()))
    again.check_view()
    assert again.spec_bytes == spec_bytes
    assert again.signatures == signatures
    assert again.spec == spec
    assert SignedTask.from_proto(task.to_proto()) == task


@given(st.dictionaries(names, values, max_size=6))
def test_parameters_round_trip_with_their_types(params):
    spec = task_pb2.TaskSpec(parameters=encode_parameters(params))
    decoded = decode_parameters(spec)
    assert decoded == params
    for name, value in params.items():
        assert type(decoded[name]) is type(value)


def test_an_edited_readable_view_is_detected():
    spec = task_pb2.TaskSpec(task_id="a" * 32, analysis_id="fund.benefit_summary")
    spec.expires_at.FromDatetime(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    data = json.loads(SignedTask(spec.SerializeToString()).to_json())
    data["spec"]["expires_at"] = "2030-01-01T00:00:00Z"
    with pytest.raises(TaskFileError, match="expires_at"):
        task_from_dict(data).check_view()


def test_damaged_files_raise_task_file_errors():
    with pytest.raises(TaskFileError, match="format"):
        task_from_dict({"format": "something else"})
    with pytest.raises(TaskFileError, match="damaged"):
        task_from_dict({"format": "fedaudit-task/v1", "spec": {}, "spec_b64": "%%%"})
    with pytest.raises(TaskFileError, match="not a task spec"):
        task_from_dict({"format": "fedaudit-task/v1", "spec": {}, "spec_b64": "/////w=="})


def test_durations_and_targets():
    assert parse_duration("2h") == dt.timedelta(hours=2)
    assert parse_duration("30m") == dt.timedelta(minutes=30)
    assert parse_duration("7d") == dt.timedelta(days=7)
    for bad in ("", "2", "0h", "2w", "h2"):
        with pytest.raises(TaskFileError):
            parse_duration(bad)
    targets = parse_targets(["gd", "level=province"])
    assert list(targets.node_ids) == ["gd"] and list(targets.selectors) == ["level=province"]
    with pytest.raises(TaskFileError):
        parse_targets(["colour=blue"])
    with pytest.raises(TaskFileError):
        parse_targets([])


def test_decimal_text_is_kept_exactly():
    spec = task_pb2.TaskSpec(parameters=encode_parameters({"amount": decimal.Decimal("1200.50")}))
    assert str(decode_parameters(spec)["amount"]) == "1200.50"
