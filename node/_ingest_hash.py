"""Hashes for ingest: the snapshot's content hash and the source file's, in the background.

The content hash names a snapshot: SHA-256 over a canonical form of its table.

The canonical form does not depend on how the data was read (CSV or Parquet, UTF-8 or
GBK, batch sizes): for each column, in order, its name and Arrow type, then one digest
of the row numbers that are NULL (int64), one of the values (NULL as zero; strings as
their int32 lengths) and, for strings, one of the UTF-8 bytes. Values are read from
the Arrow buffers, little-endian on every supported platform.
"""

from __future__ import annotations

import decimal
import hashlib
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from node.errors import NodeError

__all__ = ["Background", "FileHash", "content_hash", "hash_on_cursor"]

#: Snapshot ids are this many hex characters of the SHA-256 (64 bits).
ID_LENGTH = 16
_BATCH = 1 << 17
_CHUNK = 8 << 20


def content_hash(con: duckdb.DuckDBPyConnection, table: str, dataset: str,
                 version: int) -> str:
    """The snapshot id of table (a SQL table name) for dataset at standard version.

    Reads the table in insertion order, one Arrow batch at a time. Raises
    duckdb.Error if the table cannot be read.
    """
    rel = con.sql(f"SELECT * FROM {table}")
    read = getattr(rel, "to_arrow_reader", None) or rel.fetch_record_batch
    reader = read(_BATCH)
    columns = [_ColumnHash(f) for f in reader.schema]
    start = 0
    for batch in reader:
        for col, arr in zip(columns, batch.columns, strict=True):
            col.update(arr, start)
        start += batch.num_rows
    top = hashlib.sha256(f"fedaudit-snapshot/v1|{dataset}|{version}|".encode())
    for col in columns:
        top.update(col.digest())
    return top.hexdigest()[:ID_LENGTH]


def hash_on_cursor(cursor: duckdb.DuckDBPyConnection, table: str, dataset: str,
                   version: int) -> str:
    """content_hash on a cursor of its own (a second connection), then closes the cursor.

    Raises duckdb.Error if the table cannot be read.
    """
    try:
        return content_hash(cursor, table, dataset, version)
    finally:
        cursor.close()


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


class Background:
    """Runs fn(*args) in a thread; `result` waits and returns its value or raises its error."""

    def __init__(self, fn, *args) -> None:
        self._value, self._error = None, None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # Re-raised in the caller's thread by result().
            self._error = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


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
