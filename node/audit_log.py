"""The node's append-only, hash-chained audit log of every decision it takes (DESIGN §8).

Each line is one compact JSON object whose keys come in a fixed order: ``seq`` (1-based),
``ts`` (UTC, millisecond precision, ``Z``), ``event``, the event's fields sorted by name,
``prev`` (SHA-256 of the previous line's exact bytes, or 64 zeros for the first line) and
``hash`` (SHA-256 of the line's exact bytes without its trailing ``"hash"`` key). A head
file ``<log>.head`` records the last line's ``seq`` and ``hash``, so lines removed from the
end are detected too. Appends take an exclusive ``fcntl.flock`` on the log, so the node
daemon and a CLI command can append to one log at the same time.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from node.durable import fsync_dir
from node.errors import NodeError

__all__ = ["AuditLog", "AuditLogBroken", "ChainHead", "GENESIS_PREV"]

#: The ``prev`` of the first line: there is no line before it.
GENESIS_PREV = "0" * 64

#: Keys the log itself writes; an event's fields may not use them.
_RESERVED = ("seq", "ts", "event", "prev", "hash")

#: Every line ends with its hash as the last key, which lets a reader recover the exact
#: bytes that were hashed without re-serialising anything.
_HASH_SUFFIX = re.compile(rb',"hash":"([0-9a-f]{64})"\}\Z')


class AuditLogBroken(NodeError):
    """The audit log's chain is broken; ``line_no`` (1-based) names the first bad line."""

    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(f"line {line_no}: {reason}")
        self.line_no = line_no
        self.reason = reason


@dataclass(frozen=True)
class ChainHead:
    """The end of a verified chain: how many lines it holds and the last line's hash."""

    lines: int
    hash: str | None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _canonical_field(name: str, value: Any) -> Any:
    """Returns ``value`` with nested dict keys sorted; raises TypeError if not JSON."""
    try:
        return json.loads(json.dumps(value, sort_keys=True, allow_nan=False))
    except TypeError as exc:
        raise TypeError(
            f"audit field {name!r} is a {type(value).__name__}, which JSON cannot hold; "
            "pass str, int, float, bool, None, or lists and dicts of those"
        ) from exc
    except ValueError as exc:
        raise TypeError(f"audit field {name!r} cannot be written as JSON: {exc}") from exc


def _split_hash(line: bytes) -> tuple[bytes, str] | None:
    """Splits a line into the bytes that were hashed and its recorded hash."""
    match = _HASH_SUFFIX.search(line)
    if match is None:
        return None
    return line[: match.start()] + b"}", match.group(1).decode("ascii")


def _parse(line: bytes, line_no: int) -> dict[str, Any]:
    """Parses one line into an entry; raises AuditLogBroken if it is not one."""
    try:
        entry = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AuditLogBroken(
            line_no, "is not valid JSON (the line was cut short or garbled)"
        ) from None
    if not isinstance(entry, dict):
        raise AuditLogBroken(line_no, "is not a JSON object (the line was replaced)")
    for key in _RESERVED:
        if key not in entry:
            raise AuditLogBroken(line_no, f"has no {key!r} key (the line was edited)")
    if type(entry["seq"]) is not int:
        raise AuditLogBroken(line_no, "has a seq that is not an integer (the line was edited)")
    return entry


def _check_line(line: bytes, line_no: int, prev: str) -> dict[str, Any]:
    """Checks one complete line (without newline) against the chain so far.

    Raises AuditLogBroken naming ``line_no`` and the first problem found.
    """
    entry = _parse(line, line_no)
    split = _split_hash(line)
    if split is None or _sha256(split[0]) != split[1]:
        raise AuditLogBroken(line_no, "hash does not match its content (the line was edited)")
    if entry["seq"] != line_no:
        raise AuditLogBroken(
            line_no,
            f"seq is {entry['seq']}, expected {line_no} (a line was deleted, inserted or moved)",
        )
    if entry["prev"] != prev:
        if line_no == 1:
            why = "the first line must have a prev of 64 zeros (lines were removed at the start)"
        else:
            why = (
                f"prev does not match line {line_no - 1} "
                f"(line {line_no - 1} was edited, or lines were removed or moved)"
            )
        raise AuditLogBroken(line_no, why)
    return entry


class AuditLog:
    """A hash-chained JSON-lines audit log at ``path`` with its head file beside it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    # Writing.

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Appends one entry, flushed and fsynced to disk, and returns it.

        Raises ValueError if ``event`` is empty or a field uses a reserved name (``seq``,
        ``ts``, ``prev``, ``hash``), TypeError if a field is not JSON-serialisable, and
        AuditLogBroken if the end of the log does not match its head file (the node must
        not take decisions on a damaged log; run ``fedaudit node log verify``).
        """
        if not isinstance(event, str) or not event.strip():
            raise ValueError("an audit event needs a non-empty name such as 'task.received'")
        for name in fields:
            if name in _RESERVED:
                raise ValueError(f"audit field {name!r} is reserved for the log itself")
        clean = {name: _canonical_field(name, fields[name]) for name in sorted(fields)}

        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._next_link(fd)
            entry: dict[str, Any] = {"seq": seq, "ts": _utc_now(), "event": event}
            entry.update(clean)
            entry["prev"] = prev
            body = _dumps(entry).encode("utf-8")
            digest = _sha256(body)
            line = body[:-1] + b',"hash":"' + digest.encode("ascii") + b'"}'
            _write_all(fd, line + b"\n")
            os.fsync(fd)
            if created:
                fsync_dir(self.path.parent)
            self._write_head(seq, digest)
        finally:
            os.close(fd)  # Closing the descriptor releases the lock.
        entry["hash"] = digest
        return entry

    def _next_link(self, fd: int) -> tuple[int, str]:
        """Returns the next seq and prev, checking the log's end against the head file.

        Must be called with the exclusive lock held. Raises AuditLogBroken when the end
        of the log is damaged, naming the first broken line.
        """
        size = os.fstat(fd).st_size
        head = self._read_head()
        last = _read_last_line(fd, size)
        if last is None and head is None:
            return 1, GENESIS_PREV
        if last is not None and head is not None and last.endswith(b"\n"):
            try:
                entry = _parse(last[:-1], 0)
            except AuditLogBroken:
                entry = None
            split = _split_hash(last[:-1])
            if entry is not None and split is not None and _sha256(split[0]) == split[1]:
                # The head may lag by one line if the node stopped between the two writes.
                at_head = head == (entry["seq"], entry["hash"])
                if at_head or head[0] == entry["seq"] - 1:
                    return entry["seq"] + 1, _sha256(last[:-1])
        # The end does not match; walk the whole log to name the first broken line.
        with os.fdopen(os.dup(fd), "rb") as stream:  # Closing a duplicate keeps the lock.
            stream.seek(0)
            self._walk(stream, size, head)
        raise AuditLogBroken(
            head[0] if head else 1,
            "the end of the log does not match its head file; run `fedaudit node log verify`",
        )

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self.head_path.with_name(f"{self.head_path.name}.{os.getpid()}.tmp")
        data = _dumps({"seq": seq, "hash": digest}).encode("utf-8") + b"\n"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.head_path)
        fsync_dir(self.head_path.parent)

    # Reading.

    def _read_head(self) -> tuple[int, str] | None:
        """Returns the head file's (seq, hash), or None if there is none.

        Raises AuditLogBroken if the head file exists but cannot be read as one.
        """
        try:
            raw = self.head_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            head = json.loads(raw.decode("utf-8"))
            seq, digest = head["seq"], head["hash"]
            if type(seq) is not int or seq < 1 or not isinstance(digest, str):
                raise ValueError(seq)
        except (UnicodeDecodeError, ValueError, TypeError, KeyError):
            raise AuditLogBroken(
                1, f"the head file {self.head_path.name} is unreadable (it was edited)"
            ) from None
        return seq, digest

    def _snapshot(self) -> tuple[BinaryIO | None, int, tuple[int, str] | None]:
        """Opens the log and takes its size and head at one instant between appends."""
        try:
            stream = open(self.path, "rb")  # The caller closes it.
        except FileNotFoundError:
            return None, 0, self._read_head()
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_SH)
            size = os.fstat(stream.fileno()).st_size
            head = self._read_head()
            fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
        except BaseException:
            stream.close()
            raise
        return stream, size, head

    def entries(self) -> Iterator[dict[str, Any]]:
        """Yields each entry in order, as written when the iteration starts.

        Does not check the chain (``verify`` does). Raises AuditLogBroken if a line is
        not a JSON audit entry.
        """
        stream, size, _ = self._snapshot()
        if stream is None:
            return
        with stream:
            for line_no, line in enumerate(_lines(stream, size), start=1):
                yield _parse(line.rstrip(b"\n"), line_no)

    def tail(self, n: int) -> list[dict[str, Any]]:
        """Returns the last ``n`` entries, oldest first.

        Raises ValueError if ``n`` is negative and AuditLogBroken if a line is not a JSON
        audit entry.
        """
        if n < 0:
            raise ValueError(f"tail needs a count of 0 or more, not {n}")
        if n == 0:
            return []
        return list(collections.deque(self.entries(), maxlen=n))

    # Verifying.

    def verify(self) -> int:
        """Checks the whole chain and returns the number of intact lines.

        Raises AuditLogBroken naming the first broken line: a line that is not JSON (cut
        short), whose hash does not match its content (edited), whose seq is out of order
        (deleted, inserted or moved), whose prev does not match the line before, or a log
        that ends before or differently than its head file says (cut at the end). A
        missing log without a head file is an intact empty log.
        """
        return self.verified_head().lines

    def verified_head(self) -> ChainHead:
        """Checks the whole chain like ``verify`` and returns its end.

        Raises AuditLogBroken naming the first broken line.
        """
        stream, size, head = self._snapshot()
        if stream is None:
            if head is not None:
                raise AuditLogBroken(1, self._missing_reason(head))
            return ChainHead(0, None)
        with stream:
            return self._walk(stream, size, head)

    def _missing_reason(self, head: tuple[int, str]) -> str:
        return (
            f"missing; the head file {self.head_path.name} says the log has {head[0]} lines "
            "(lines were removed from the end)"
        )

    def _walk(self, stream: BinaryIO, size: int, head: tuple[int, str] | None) -> ChainHead:
        """Checks the first ``size`` bytes of ``stream`` line by line against ``head``."""
        count, prev, last_hash, head_line_hash = 0, GENESIS_PREV, None, None
        for line in _lines(stream, size):
            count += 1
            if not line.endswith(b"\n"):
                # Checking the content first names a cut that left broken JSON.
                _check_line(line, count, prev)
                raise AuditLogBroken(count, "has no newline at its end (the line was cut short)")
            body = line[:-1]
            entry = _check_line(body, count, prev)
            prev, last_hash = _sha256(body), entry["hash"]
            if head is not None and count == head[0]:
                head_line_hash = last_hash
        if head is None:
            if count:
                raise AuditLogBroken(
                    count,
                    f"the head file {self.head_path.name} is missing, so lines removed "
                    "from the end would go unnoticed (it was deleted)",
                )
            return ChainHead(0, None)
        if count < head[0]:
            raise AuditLogBroken(count + 1, self._missing_reason(head))
        if head_line_hash != head[1]:
            raise AuditLogBroken(
                head[0],
                f"does not match the head file {self.head_path.name} "
                "(the line was replaced or lines were removed from the end)",
            )
        if count > head[0] + 1:
            # One line past the head is a node that stopped between its two writes.
            raise AuditLogBroken(
                head[0] + 2, f"is not recorded in the head file {self.head_path.name}"
            )
        return ChainHead(count, last_hash)


def _lines(stream: BinaryIO, size: int) -> Iterator[bytes]:
    """Yields the lines (with their newline, if any) among the first ``size`` bytes."""
    remaining = size
    while remaining > 0:
        line = stream.readline(remaining)
        if not line:
            return
        remaining -= len(line)
        yield line


def _read_last_line(fd: int, size: int, chunk: int = 8192) -> bytes | None:
    """Returns the last line among the first ``size`` bytes, newline included."""
    if size == 0:
        return None
    end = size - 1  # A trailing newline belongs to the last line, not before it.
    data = b""
    pos = end
    while pos > 0:
        start = max(0, pos - chunk)
        data = os.pread(fd, pos - start, start) + data
        pos = start
        cut = data.rfind(b"\n")
        if cut != -1:
            return data[cut + 1 :] + os.pread(fd, size - end, end)
    return data + os.pread(fd, size - end, end)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
