"""One Arrow IPC stream cut into bounded byte chunks for gRPC, its SHA-256 digest, and reassembly.

The sender writes a single IPC stream (schema, record batches, end-of-stream marker) and
yields it in pieces of at most `max_bytes`, none empty; a record batch larger than
`max_bytes` is sliced before it is written, so no whole oversized message is ever held
next to its batch. The digest is computed over the bytes as they are produced and is
what the node's receipt names; the receiver recomputes it in `read_ipc`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import pyarrow as pa

from node.errors import NodeError

__all__ = ["DEFAULT_MAX_BYTES", "ArrowStreamError", "IpcChunks", "ipc_chunks", "read_ipc"]

#: The largest chunk sent in one message: well under gRPC's default 4 MiB receive limit
#: once framing is added, so callers should leave headroom or raise the server's limit.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
#: The IPC end-of-stream marker: a continuation token and a zero metadata length.
_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


class ArrowStreamError(NodeError):
    """A result stream that cannot be written or read: a batch of another schema, bytes
    that are not one Arrow IPC stream, or a digest that does not match the receipt."""


class _Sink:
    """A write-only file object that keeps what the IPC writer wrote until it is taken."""

    closed = False

    def __init__(self) -> None:
        self.pending = bytearray()
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        view = memoryview(data)
        self.pending += view
        self.hash.update(view)
        self.size += view.nbytes
        return view.nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class IpcChunks:
    """An iterator over the byte chunks of one IPC stream; `digest` is ready once exhausted."""

    def __init__(self, batches: Iterable[pa.RecordBatch], schema: pa.Schema, max_bytes: int):
        self.schema = schema
        self.max_bytes = max_bytes
        self.rows = 0
        self._sink = _Sink()
        self._finished = False
        self._chunks = self._generate(batches)

    def __iter__(self) -> IpcChunks:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    @property
    def digest(self) -> str:
        """SHA-256 hex of the whole IPC stream; raises ArrowStreamError before the end."""
        if not self._finished:
            raise ArrowStreamError("the digest is known only after every chunk was taken; "
                                   "exhaust the iterator first")
        return self._sink.hash.hexdigest()

    @property
    def nbytes(self) -> int:
        """Bytes of the stream produced so far (all of it once exhausted)."""
        return self._sink.size

    def _generate(self, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
        sink = self._sink
        try:
            writer = pa.ipc.new_stream(sink, self.schema)
        except pa.ArrowException as exc:
            raise ArrowStreamError(f"cannot start an Arrow stream of {self.schema}: {exc}") from exc
        with writer:
            for batch in batches:
                if not batch.schema.equals(self.schema):
                    raise ArrowStreamError(f"a record batch has schema {batch.schema}, not the "
                                           f"stream's {self.schema}")
                for piece in _slices(batch, self.max_bytes):
                    writer.write_batch(piece)
                    self.rows += piece.num_rows
                    yield from self._take(whole_only=True)
        yield from self._take(whole_only=False)
        self._finished = True

    def _take(self, *, whole_only: bool) -> Iterator[bytes]:
        """Full chunks from the pending bytes (and the remainder too when not `whole_only`)."""
        pending, size = self._sink.pending, self.max_bytes
        start = 0
        while len(pending) - start >= size or (not whole_only and start < len(pending)):
            yield bytes(pending[start:start + size])
            start += size
        del pending[:start]


def ipc_chunks(
    batches: Iterable[pa.RecordBatch] | pa.Table,
    schema: pa.Schema,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> IpcChunks:
    """Writes `batches` as one Arrow IPC stream of `schema`, yielded in chunks of <= max_bytes.

    Returns an iterator of non-empty `bytes`; once it is exhausted its `digest` is the
    SHA-256 hex of the concatenated chunks and `rows` the number of rows written. Raises
    ValueError for max_bytes < 1; iterating raises ArrowStreamError for a batch whose
    schema differs from `schema`.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be at least 1")
    if isinstance(batches, pa.Table):
        batches = batches.to_batches()
    return IpcChunks(batches, schema, max_bytes)


def read_ipc(chunks: Iterable[bytes], *, expected_digest: str | None = None) -> pa.Table:
    """Reads the table back from the chunks of one IPC stream, in order.

    The chunks are joined once and the table is read from that buffer without another
    copy. With `expected_digest` (e.g. the receipt's output_digest) the SHA-256 of every
    byte received must match. Raises ArrowStreamError when the bytes are not exactly one
    Arrow IPC stream (truncated, corrupt, or followed by further bytes) or the digest
    differs.
    """
    parts = []
    for chunk in chunks:
        if not isinstance(chunk, bytes | bytearray):
            raise ArrowStreamError(f"a chunk is {type(chunk).__name__}, not bytes")
        parts.append(chunk)
    data = b"".join(parts)
    del parts
    source = pa.BufferReader(pa.py_buffer(data))
    try:
        with pa.ipc.open_stream(source) as reader:
            table = reader.read_all()
    except (pa.ArrowException, OSError) as exc:
        raise ArrowStreamError(f"the result is not a valid Arrow IPC stream: {exc}") from exc
    if source.tell() != len(data):
        raise ArrowStreamError("the result has bytes after the end of its Arrow IPC stream")
    if not data.endswith(_END_OF_STREAM):
        raise ArrowStreamError("the result stops before the end-of-stream marker of its Arrow "
                               "IPC stream; it was cut on the way")
    if expected_digest is not None and hashlib.sha256(data).hexdigest() != expected_digest:
        raise ArrowStreamError("the result's SHA-256 digest does not match the expected one; "
                               "it was changed or cut on the way")
    return table


def _slices(batch: pa.RecordBatch, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """The batch as zero-copy slices of at most about max_bytes of buffers each."""
    size = batch.nbytes
    if size <= max_bytes or batch.num_rows <= 1:
        yield batch
        return
    rows = max(1, batch.num_rows * max_bytes // size)
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)
