"""Tests for the hash-chained audit log: format, round trip, and every kind of tampering."""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.audit_log import GENESIS_PREV, AuditLog, AuditLogBroken
from node.errors import NodeError
from tests.auditlog.helpers import read_lines, write_log

LOG_LINES = 6


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    """A log of six intact entries in a fresh directory."""
    return write_log(tmp_path / "audit.log", LOG_LINES)


# Format and round trip.


def test_append_returns_entry_in_fixed_key_order(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    entry = audit.append("task.refused", task_id="t-1", code="EXPIRED", note="过期")
    assert list(entry) == ["seq", "ts", "event", "code", "note", "task_id", "prev", "hash"]
    assert entry["seq"] == 1
    assert entry["prev"] == GENESIS_PREV
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])
    raw = (tmp_path / "audit.log").read_bytes()
    # UTF-8 without escapes, compact separators, one line.
    assert "过期".encode() in raw
    assert b", " not in raw and b'": ' not in raw
    assert raw.count(b"\n") == 1 and raw.endswith(b"\n")


def test_hash_and_prev_are_sha256_of_exact_bytes(tmp_path: Path) -> None:
    audit = write_log(tmp_path / "audit.log", 2)
    first, second = (line.rstrip(b"\n") for line in read_lines(audit.path))
    entry = json.loads(first)
    without_hash = {k: v for k, v in entry.items() if k != "hash"}
    body = json.dumps(without_hash, ensure_ascii=False, separators=(",", ":")).encode()
    assert entry["hash"] == hashlib.sha256(body).hexdigest()
    assert json.loads(second)["prev"] == hashlib.sha256(first).hexdigest()


def test_head_file_records_last_line(audit: AuditLog) -> None:
    head = json.loads(audit.head_path.read_text())
    last = json.loads(read_lines(audit.path)[-1])
    assert head == {"seq": LOG_LINES, "hash": last["hash"]}
    assert audit.head_path.name == "audit.log.head"


def test_round_trip(audit: AuditLog) -> None:
    assert audit.verify() == LOG_LINES
    entries = list(audit.entries())
    assert [e["seq"] for e in entries] == list(range(1, LOG_LINES + 1))
    assert [e["task_id"] for e in entries] == [f"t-{n}" for n in range(1, LOG_LINES + 1)]
    assert [e["n"] for e in audit.tail(2)] == [LOG_LINES - 1, LOG_LINES]
    assert audit.tail(0) == []
    assert len(audit.tail(100)) == LOG_LINES
    head = audit.verified_head()
    assert head.lines == LOG_LINES and head.hash == entries[-1]["hash"]


def test_missing_log_is_an_intact_empty_log(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    assert audit.verify() == 0
    assert list(audit.entries()) == []
    assert audit.tail(3) == []
    assert not audit.path.exists()


def test_reopened_log_continues_the_chain(audit: AuditLog) -> None:
    again = AuditLog(audit.path)
    entry = again.append("task.executed", task_id="t-7")
    assert entry["seq"] == LOG_LINES + 1
    assert entry["prev"] == hashlib.sha256(read_lines(audit.path)[-2].rstrip(b"\n")).hexdigest()
    assert again.verify() == LOG_LINES + 1


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"blob": b"bytes"}, TypeError),
        ({"when": object()}, TypeError),
        ({"ratio": float("nan")}, TypeError),
        ({"seq": 5}, ValueError),
        ({"hash": "x"}, ValueError),
    ],
    ids=["bytes", "object", "nan", "reserved-seq", "reserved-hash"],
)
def test_append_rejects_bad_fields_and_writes_nothing(
    tmp_path: Path, fields: dict, error: type[Exception]
) -> None:
    audit = AuditLog(tmp_path / "audit.log")
    with pytest.raises(error):
        audit.append("task.received", **fields)
    assert not audit.path.exists()
    assert audit.verify() == 0


def test_append_rejects_empty_event(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        AuditLog(tmp_path / "audit.log").append(" ")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
field_names = st.text(min_size=1, max_size=8).filter(
    lambda name: name not in {"seq", "ts", "event", "prev", "hash"}
)


@settings(max_examples=40, deadline=None)
@given(events=st.lists(st.dictionaries(field_names, json_values, max_size=4), max_size=4))
def test_any_json_fields_round_trip(events: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        audit = AuditLog(Path(tmp) / "audit.log")
        for fields in events:
            audit.append("event\u2028with line separator", **fields)
        assert audit.verify() == len(events)
        for fields, entry in zip(events, audit.entries(), strict=True):
            assert {k: entry[k] for k in fields} == fields
            assert len(entry) == len(fields) + 5


# Tampering: each case names the first line that verification must report.


def _rehash(line: bytes) -> bytes:
    """Recomputes a line's own hash, as a careful forger would."""
    entry = json.loads(line)
    del entry["hash"]
    body = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
    entry["hash"] = hashlib.sha256(body).hexdigest()
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _edit(line: bytes) -> bytes:
    assert b'"n":' in line
    return re.sub(rb'"n":\d+', b'"n":999', line)


def _lines_case(change: Callable[[list[bytes]], list[bytes]]) -> Callable[[AuditLog], None]:
    def tamper(audit: AuditLog) -> None:
        audit.path.write_bytes(b"".join(change(read_lines(audit.path))))

    return tamper


def _swap(lines: list[bytes], i: int, j: int) -> list[bytes]:
    lines[i], lines[j] = lines[j], lines[i]
    return lines


def _set_head(audit: AuditLog, text: str) -> None:
    audit.head_path.write_text(text)


TAMPERING = {
    # name: (how to tamper, first broken line, words in the reason)
    "edit-field": (
        _lines_case(lambda ls: ls[:2] + [_edit(ls[2])] + ls[3:]),
        3,
        "hash does not match its content (the line was edited)",
    ),
    "delete-middle": (_lines_case(lambda ls: ls[:2] + ls[3:]), 3, "seq is 4, expected 3"),
    "delete-first": (_lines_case(lambda ls: ls[1:]), 1, "seq is 2, expected 1"),
    "swap-two": (_lines_case(lambda ls: _swap(ls, 1, 2)), 2, "seq is 3, expected 2"),
    "duplicate-line": (_lines_case(lambda ls: ls[:3] + ls[2:]), 4, "seq is 3, expected 4"),
    "blank-line": (_lines_case(lambda ls: ls[:4] + [b"\n"] + ls[4:]), 5, "not valid JSON"),
    "cut-last-short": (
        _lines_case(lambda ls: ls[:-1] + [ls[-1][: len(ls[-1]) // 2]]),
        LOG_LINES,
        "not valid JSON (the line was cut short",
    ),
    "cut-last-newline": (
        _lines_case(lambda ls: ls[:-1] + [ls[-1].rstrip(b"\n")]),
        LOG_LINES,
        "no newline",
    ),
    "delete-last": (
        _lines_case(lambda ls: ls[:-1]),
        LOG_LINES,
        "missing; the head file audit.log.head says the log has 6 lines",
    ),
    "delete-last-two": (_lines_case(lambda ls: ls[:-2]), LOG_LINES - 1, "missing"),
    "empty-log": (_lines_case(lambda ls: []), 1, "missing"),
    "delete-log": (lambda audit: audit.path.unlink(), 1, "missing"),
    "edit-and-rehash": (
        _lines_case(lambda ls: ls[:2] + [_rehash(_edit(ls[2]))] + ls[3:]),
        4,
        "prev does not match line 3",
    ),
    "edit-and-rehash-last": (
        _lines_case(lambda ls: ls[:-1] + [_rehash(_edit(ls[-1]))]),
        LOG_LINES,
        "does not match the head file",
    ),
    "head-hash-differs": (
        lambda audit: _set_head(audit, '{"seq":6,"hash":"' + "ab" * 32 + '"}'),
        LOG_LINES,
        "does not match the head file",
    ),
    "delete-head-file": (lambda audit: audit.head_path.unlink(), LOG_LINES, "head file"),
    "garble-head-file": (lambda audit: _set_head(audit, "{"), 1, "head file"),
    "head-lags-by-two": (
        lambda audit: _set_head(
            audit, json.dumps({"seq": 4, "hash": json.loads(read_lines(audit.path)[3])["hash"]})
        ),
        LOG_LINES,
        "is not recorded in the head file",
    ),
}


@pytest.mark.parametrize(
    ("tamper", "line_no", "reason"), list(TAMPERING.values()), ids=list(TAMPERING)
)
def test_tampering_is_detected_at_first_broken_line(
    audit: AuditLog, tamper: Callable[[AuditLog], None], line_no: int, reason: str
) -> None:
    assert audit.verify() == LOG_LINES
    tamper(audit)
    with pytest.raises(AuditLogBroken) as caught:
        audit.verify()
    assert caught.value.line_no == line_no
    assert reason in caught.value.reason
    assert str(caught.value) == f"line {line_no}: {caught.value.reason}"
    assert isinstance(caught.value, NodeError)


def test_message_reads_like_the_design(audit: AuditLog) -> None:
    lines = read_lines(audit.path)
    lines[6 - 1] = _edit(lines[6 - 1])
    audit.path.write_bytes(b"".join(lines))
    with pytest.raises(
        AuditLogBroken,
        match=r"^line 6: hash does not match its content "
        r"\(the line was edited\)$",
    ):
        audit.verify()


@pytest.mark.parametrize(
    "name",
    [
        "cut-last-short",
        "cut-last-newline",
        "delete-last",
        "edit-and-rehash-last",
        "delete-head-file",
        "empty-log",
    ],
)
def test_append_refuses_a_log_damaged_at_its_end(audit: AuditLog, name: str) -> None:
    tamper, line_no, _ = TAMPERING[name]
    tamper(audit)
    before = audit.path.read_bytes()
    with pytest.raises(AuditLogBroken) as caught:
        audit.append("task.received", task_id="t-new")
    assert caught.value.line_no == line_no
    assert audit.path.read_bytes() == before


def test_head_one_line_behind_is_a_stop_between_writes(audit: AuditLog) -> None:
    lines = read_lines(audit.path)
    previous = json.loads(lines[-2])
    _set_head(audit, json.dumps({"seq": previous["seq"], "hash": previous["hash"]}))
    assert audit.verify() == LOG_LINES
    entry = audit.append("task.received", task_id="t-7")
    assert entry["seq"] == LOG_LINES + 1
    assert audit.verify() == LOG_LINES + 1
    assert json.loads(audit.head_path.read_text())["seq"] == LOG_LINES + 1


def test_entries_name_an_unparsable_line(audit: AuditLog) -> None:
    lines = read_lines(audit.path)
    lines[1] = b"not json\n"
    audit.path.write_bytes(b"".join(lines))
    with pytest.raises(AuditLogBroken) as caught:
        list(audit.entries())
    assert caught.value.line_no == 2
