"""Hashing and streaming for ingest: snapshot content hashes and the source file's bytes.

The content hash names a snapshot: SHA-256 over a canonical form of its table. The
source file is streamed in chunks to hash it (in the background), to check that it is
UTF-8 and to transcode it.

The canonical form does not depend on how the data was read (CSV or Parquet, UTF-8 or
GBK, batch sizes): for each column, in order, its name and Arrow type, then one digest
of the row numbers that are NULL (int64), one of the values (NULL as zero; strings as
their int32 lengths) and, for strings, one of the UTF-8 bytes. Values are read from
the Arrow buffers, little-endian on every supported platform. Each column's digests
depend on that column alone, so the columns are read and hashed one at a time, on a
few threads with a cursor each.
"""

from __future__ import annotations

import codecs
import decimal
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from node.errors import NodeError

__all__ = ["FileHash", "content_hash", "transcode", "utf8_error"]

#: Snapshot ids are this many hex characters of the SHA-256 (64 bits).
ID_LENGTH = 16
_BATCH = 1 << 17
_CHUNK = 8 << 20
#: Columns hashed at once; DuckDB's reads and SHA-256 both release the GIL.
_WORKERS = 2


def content_hash(con: duckdb.DuckDBPyConnection, table: str, dataset: str,
                 version: int) -> str:
    """The snapshot id of table (a SQL table name) for dataset at standard version.

    Reads each column in insertion order, one Arrow batch at a time, on a cursor of
    its own. Raises duckdb.Error if the table cannot be read.
    """
    names = con.sql(f"SELECT * FROM {table} LIMIT 0").columns
    cursors = [con.cursor() for _ in names]
    try:
        with ThreadPoolExecutor(max_workers=min(_WORKERS, len(names) or 1)) as pool:
            digests = list(pool.map(lambda c, n: _hash_column(c, table, n), cursors, names))
    finally:
        for cursor in cursors:
            cursor.close()
    top = hashlib.sha256(f"fedaudit-snapshot/v1|{dataset}|{version}|".encode())
    for digest in digests:
        top.update(digest)
    return top.hexdigest()[:ID_LENGTH]


def _hash_column(cursor: duckdb.DuckDBPyConnection, table: str, name: str) -> bytes:
    """The digests of one column of table, read on cursor (used by this thread alone)."""
    quoted = '"' + name.replace('"', '""') + '"'
    rel = cursor.sql(f"SELECT {quoted} FROM {table}")
    read = getattr(rel, "to_arrow_reader", None) or rel.fetch_record_batch
    reader = read(_BATCH)
    column = _ColumnHash(reader.schema.field(0))
    start = 0
    for batch in reader:
        column.update(batch.column(0), start)
        start += batch.num_rows
    return column.digest()


class _ColumnHash:
    """The running digests of one column."""

    def __init__(self, f: pa.Field) -> None:
        self.field = f
        self.is_string = pa.types.is_string(f.type) or pa.types.is_large_string(f.type) \
            or pa.types.is_string_view(f.type)
        self.nulls, self.values, self.data = hashlib.sha256(), hashlib.sha256(), \
            hashlib.sha256()

    def update(self, arr: pa.Array, start: int) -> None:
        """Adds arr, whose first value is row number start of the table."""
        if arr.null_count:
            nulls = pc.add(pc.indices_nonzero(pc.is_null(arr)), pa.scalar(start, pa.uint64()))
            self.nulls.update(_fixed_bytes(nulls))
        if self.is_string:
            if not pa.types.is_string(arr.type):
                arr = arr.cast(pa.string())
            if arr.null_count:
                arr = pc.fill_null(arr, "")
            self.values.update(_fixed_bytes(pc.binary_length(arr)))
            offsets = memoryview(arr.buffers()[1]).cast("i")
            first, last = offsets[arr.offset], offsets[arr.offset + len(arr)]
            if last > first:
                self.data.update(memoryview(arr.buffers()[2])[first:last])
        elif pa.types.is_boolean(arr.type):
            self.values.update(_fixed_bytes(pc.cast(pc.fill_null(arr, False), pa.uint8())))
        else:
            if arr.null_count:
                arr = pc.fill_null(arr, _zero(arr.type))
            self.values.update(_fixed_bytes(arr))

    def digest(self) -> bytes:
        head = f"{self.field.name}|{self.field.type}|".encode()
        return head + self.nulls.digest() + self.values.digest() + self.data.digest()


def _fixed_bytes(arr: pa.Array) -> memoryview:
    """The value bytes of a fixed-width array without nulls, exactly len(arr) values."""
    width = arr.type.bit_width // 8
    buf = memoryview(arr.buffers()[1])
    return buf[arr.offset * width:(arr.offset + len(arr)) * width]


def _zero(t: pa.DataType) -> pa.Scalar:
    if pa.types.is_date32(t):
        return pa.scalar(0, pa.int32()).cast(t)
    if pa.types.is_decimal(t):
        return pa.scalar(decimal.Decimal(0), t)
    if pa.types.is_temporal(t):
        return pa.scalar(0, pa.int64()).cast(t)
    return pa.scalar(0, t)


class FileHash:
    """SHA-256 of a file, computed in a background thread."""

    def __init__(self, path: Path) -> None:
        self.hexdigest = ""
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        sha = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    sha.update(chunk)
        except OSError as exc:
            self._error = exc
        self.hexdigest = sha.hexdigest()

    def join(self) -> None:
        """Waits for the hash; raises NodeError if the file could not be read."""
        self._thread.join()
        if self._error is not None:
            raise NodeError(f"cannot read {self._error.filename}: {self._error.strerror}; "
                            f"check that the file is readable")


def utf8_error(path: Path) -> int | None:
    """The offset of the first byte that is not valid UTF-8, or None if all are."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            if not chunk:
                return None
            offset += len(chunk)


def transcode(source: Path, target: Path, encoding: str) -> int | None:
    """Writes source, decoded from encoding, to target as UTF-8.

    Returns None, or the offset of the first byte of source that is not valid in
    encoding (target is then incomplete). Raises OSError if a file cannot be read or
    written, LookupError if encoding is unknown.
    """
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    try:
        with open(source, "rb") as f, open(target, "wb") as out:
            while chunk := f.read(_CHUNK):
                out.write(decoder.decode(chunk).encode("utf-8"))
                offset += len(chunk)
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError as exc:
        return offset + exc.start
    return None
