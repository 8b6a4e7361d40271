"""One Arrow IPC stream cut into bounded byte chunks for gRPC, its SHA-256 digest, and reassembly.

The sender writes a single IPC stream (schema, record batches, end-of-stream marker) and
yields it in pieces of at most `max_bytes`, none empty; a record batch larger than
`max_bytes` is sliced before it is written, so no whole oversized message is ever held
next to its batch. A chunk ends where an IPC message ends whenever the next message would
not fit in it whole, and each chunk is made with a single copy of the batches' buffers.
The digest is computed over the bytes as they are produced and is what the node's
receipt names; the receiver recomputes it in `read_ipc`.

`read_ipc` reads the messages of each chunk in place (no copy) and copies only the bytes
of a message that spans chunks, so a result is never held twice in memory; a chunk cut
anywhere else is still read correctly, only with one more copy.
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
    """A write-only file object that keeps views of what the IPC writer wrote (the writer
    hands over new bytes or its own buffers, so nothing is copied here)."""

    closed = False

    def __init__(self) -> None:
        self.pieces: list[memoryview] = []
        self.size = 0

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        if view.nbytes:
            self.pieces.append(view)
            self.size += view.nbytes
        return view.nbytes

    def take(self) -> list[memoryview]:
        pieces, self.pieces, self.size = self.pieces, [], 0
        return pieces

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class IpcChunks:
    """An iterator over the byte chunks of one IPC stream; `digest` is ready once exhausted
    (unless it was made with digest=False)."""

    def __init__(self, batches: Iterable[pa.RecordBatch], schema: pa.Schema, max_bytes: int,
                 digest: bool = True):
        self.schema = schema
        self.max_bytes = max_bytes
        self.rows = 0
        self._sink = _Sink()
        self._hash = hashlib.sha256() if digest else None
        self._size = 0
        self._chunk: list[memoryview] = []  # pieces of the chunk being filled
        self._filled = 0
        self._finished = False
        self._chunks = self._generate(batches)

    def __iter__(self) -> IpcChunks:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    @property
    def digest(self) -> str:
        """SHA-256 hex of the whole IPC stream; raises ArrowStreamError before the end, or
        when the chunks were made without a digest."""
        if self._hash is None:
            raise ArrowStreamError("these chunks were made with digest=False")
        if not self._finished:
            raise ArrowStreamError("the digest is known only after every chunk was taken; "
                                   "exhaust the iterator first")
        return self._hash.hexdigest()

    @property
    def nbytes(self) -> int:
        """Bytes of the stream produced so far (all of it once exhausted)."""
        return self._size

    def _generate(self, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
        try:
            writer = pa.ipc.new_stream(self._sink, self.schema)
        except pa.ArrowException as exc:
            raise ArrowStreamError(f"cannot start an Arrow stream of {self.schema}: {exc}") from exc
        with writer:
            yield from self._add_message()
            for batch in batches:
                if not batch.schema.equals(self.schema):
                    raise ArrowStreamError(f"a record batch has schema {batch.schema}, not the "
                                           f"stream's {self.schema}")
                for piece in _slices(batch, self.max_bytes):
                    writer.write_batch(piece)
                    self.rows += piece.num_rows
                    yield from self._add_message()
        yield from self._add_message()  # the end-of-stream marker
        if self._filled:
            yield self._emit()
        self._finished = True

    def _add_message(self) -> Iterator[bytes]:
        """Adds what the writer wrote since the last call (whole messages) to the chunk
        being filled; first emits that chunk if the messages would not fit in it whole."""
        size = self._sink.size
        if not size:
            return
        pieces = self._sink.take()
        if self._filled and self._filled + size > self.max_bytes:
            yield self._emit()
        for piece in pieces:
            while piece.nbytes:
                room = self.max_bytes - self._filled
                self._chunk.append(piece[:room])
                self._filled += min(room, piece.nbytes)
                piece = piece[room:]
                if self._filled == self.max_bytes:
                    yield self._emit()

    def _emit(self) -> bytes:
        chunk = b"".join(self._chunk)  # the one copy of these bytes on the sender
        self._chunk, self._filled = [], 0
        if self._hash is not None:
            self._hash.update(chunk)
        self._size += len(chunk)
        return chunk


def ipc_chunks(
    batches: Iterable[pa.RecordBatch] | pa.Table,
    schema: pa.Schema,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    digest: bool = True,
) -> IpcChunks:
    """Writes `batches` as one Arrow IPC stream of `schema`, yielded in chunks of <= max_bytes.

    Returns an iterator of non-empty `bytes`; once it is exhausted its `digest` is the
    SHA-256 hex of the concatenated chunks (skip that work with digest=False when no one
    needs it, e.g. to stream a stored result) and `rows` the number of rows written.
    Raises ValueError for max_bytes < 1; iterating raises ArrowStreamError for a batch
    whose schema differs from `schema`.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be at least 1")
    if isinstance(batches, pa.Table):
        batches = batches.to_batches()
    return IpcChunks(batches, schema, max_bytes, digest)


def read_ipc(chunks: Iterable[bytes], *, expected_digest: str | None = None) -> pa.Table:
    """Reads the table back from the chunks of one IPC stream, in order.

    Chunks may be bytes, bytearray or memoryview. Each chunk's messages are read in place;
    only a message cut across chunks is copied. With `expected_digest` (e.g. the
    receipt's output_digest) the SHA-256 of every byte received must match. Raises
    ArrowStreamError when the bytes are not exactly one Arrow IPC stream (truncated,
    corrupt, or followed by further bytes) or the digest differs.
    """
    reader = _StreamReader()
    digest = hashlib.sha256() if expected_digest is not None else None
    for chunk in chunks:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise ArrowStreamError(f"a chunk is {type(chunk).__name__}, not bytes")
        view = memoryview(chunk).cast("B")
        if digest is not None:
            digest.update(view)
        reader.feed(view)
    table = reader.finish()
    if digest is not None and digest.hexdigest() != expected_digest:
        raise ArrowStreamError("the result's SHA-256 digest does not match the expected one; "
                               "it was changed or cut on the way")
    return table


class _StreamReader:
    """Reads an IPC stream fed in pieces: whole messages in place, cut ones once joined."""

    def __init__(self) -> None:
        self._schema: pa.Schema | None = None
        self._batches: list[pa.RecordBatch] = []
        self._carry: list[memoryview] = []  # the start of a message cut across chunks
        self._carried = 0
        self._retry_at = 0  # carried bytes at which to try reading the cut message again
        self._ended = False

    def feed(self, view: memoryview) -> None:
        if not view.nbytes:
            return
        if self._ended:
            raise ArrowStreamError("the result has bytes after the end of its Arrow IPC stream")
        if self._carry:
            self._carry.append(view)
            self._carried += view.nbytes
            if self._carried < self._retry_at:
                return  # a long message: wait until the carried bytes doubled
            view = memoryview(b"".join(self._carry))
            self._carry, self._carried = [], 0
        self._read(view)

    def _read(self, view: memoryview) -> None:
        buffer = pa.py_buffer(view)
        source = pa.BufferReader(buffer)
        position, size = 0, buffer.size
        while position < size:
            if self._ended:
                raise ArrowStreamError("the result has bytes after the end of its Arrow IPC "
                                       "stream")
            if view[position:position + 8] == _END_OF_STREAM:
                self._ended = True
                position += 8
                continue
            try:
                message = pa.ipc.read_message(source)
            except (pa.ArrowException, OSError, EOFError):
                # Cut short (or not IPC at all): keep the rest until more bytes come.
                rest = view[position:]
                self._carry, self._carried = [rest], rest.nbytes
                self._retry_at = 2 * rest.nbytes
                return
            self._add(message)
            position = source.tell()

    def _add(self, message) -> None:
        try:
            if self._schema is None:
                if message.type != "schema":
                    raise ArrowStreamError("the result does not start with the schema of an "
                                           "Arrow IPC stream")
                self._schema = pa.ipc.read_schema(message)
            elif message.type == "record batch":
                self._batches.append(pa.ipc.read_record_batch(message, self._schema))
            else:
                raise ArrowStreamError(f"the result holds an IPC message of type "
                                       f"{message.type!r}; only record batches are read")
        except (pa.ArrowException, OSError) as exc:
            raise ArrowStreamError(f"the result is not a valid Arrow IPC stream: {exc}") from exc

    def finish(self) -> pa.Table:
        if self._carry and self._carried < self._retry_at:  # the last try of a cut message
            view = memoryview(b"".join(self._carry))
            self._carry, self._carried, self._retry_at = [], 0, 0
            self._read(view)
        if self._carry:
            raise ArrowStreamError("the result is not a valid Arrow IPC stream: it ends inside "
                                   "a message, or holds bytes that are not IPC")
        if self._schema is None:
            raise ArrowStreamError("the result is not a valid Arrow IPC stream: it holds no "
                                   "schema")
        if not self._ended:
            raise ArrowStreamError("the result stops before the end-of-stream marker of its "
                                   "Arrow IPC stream; it was cut on the way")
        try:
            return pa.Table.from_batches(self._batches, schema=self._schema)
        except (pa.ArrowException, OSError) as exc:
            raise ArrowStreamError(f"the result is not a valid Arrow IPC stream: {exc}") from exc


def _slices(batch: pa.RecordBatch, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """The batch as zero-copy slices of at most about max_bytes of buffers each."""
    size = batch.nbytes
    if size <= max_bytes or batch.num_rows <= 1:
        yield batch
        return
    rows = max(1, batch.num_rows * max_bytes // size)
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)
