"""The coordinator's result store: node partials as Arrow IPC, results as Parquet, provenance.

Layout under the coordinator home::

    HOME/results/<task_id>/partials/<node_id>.arrows   one node's output, an Arrow IPC stream
    HOME/results/<task_id>/result.parquet              the combined result
    HOME/results/<task_id>/provenance.json             who answered, with what, and how

Every file appears atomically: it is written to a temporary file in the same folder,
synced, and renamed over its final name, so a crash leaves the old file or the new one,
never half of one. Large tables stream through in bounded pieces (DESIGN §11).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from coordinator.store import StoreError
from node.durable import replace_atomically

__all__ = [
    "MAX_CHUNK",
    "ResultError",
    "load_provenance",
    "partial_path",
    "provenance_path",
    "read_partial",
    "replace_atomically",
    "result_chunks",
    "result_dir",
    "result_path",
    "write_partial",
    "write_provenance",
]

#: The largest Arrow IPC chunk sent in one gRPC message: 4 MiB, gRPC's default limit.
MAX_CHUNK = 4 * 1024 * 1024

RESULTS = "results"
PARTIALS = "partials"
RESULT_FILE = "result.parquet"
PROVENANCE_FILE = "provenance.json"

#: Task and node ids become path components, so they may hold no separator and no dots
#: at the start (".", ".." or hidden files).
_PATH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class ResultError(StoreError):
    """A partial or result that cannot be stored or read; the message says which and why."""


def _component(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _PATH_ID.fullmatch(value):
        raise ResultError(f"{kind} {value!r} cannot name a file: use letters, digits, '.', "
                          "'_' and '-' only, starting with a letter or digit")
    return value


def result_dir(home: str | os.PathLike[str], task_id: str) -> Path:
    """The folder of one task's partials and result; raises ResultError for a bad task id."""
    return Path(home) / RESULTS / _component("task id", task_id)


def partial_path(home: str | os.PathLike[str], task_id: str, node_id: str) -> Path:
    """Where the node's partial of the task is stored; raises ResultError for a bad id."""
    return result_dir(home, task_id) / PARTIALS / f"{_component('node id', node_id)}.arrows"


def result_path(home: str | os.PathLike[str], task_id: str) -> Path:
    """Where the task's combined Parquet result is stored; raises ResultError for a bad id."""
    return result_dir(home, task_id) / RESULT_FILE


def provenance_path(home: str | os.PathLike[str], task_id: str) -> Path:
    """Where the task's provenance record is stored; raises ResultError for a bad id."""
    return result_dir(home, task_id) / PROVENANCE_FILE


def count_rows(path: Path) -> int:
    """Rows in the Arrow IPC stream file at ``path``; raises ResultError if it is not one."""
    try:
        with pa.memory_map(str(path)) as source:
            reader = pa.ipc.open_stream(source)
            return sum(batch.num_rows for batch in reader)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise ResultError(f"the output is not a valid Arrow IPC stream: {exc}") from exc


def write_partial(
    home: str | os.PathLike[str],
    task_id: str,
    node_id: str,
    chunks: Iterable[bytes],
    *,
    max_bytes: int | None = None,
) -> tuple[Path, int, str]:
    """Stores a node's output, received as Arrow IPC stream chunks, and checks it.

    Chunks go to disk as they arrive (nothing is held in memory but the chunk at hand);
    the file is renamed into place only when the stream is complete and valid. Returns
    (path, row count, SHA-256 hex of the IPC bytes). Raises ResultError if the bytes are
    not an Arrow IPC stream, if they pass ``max_bytes``, or if an id cannot name a file;
    exceptions raised while iterating ``chunks`` propagate and store nothing.
    """
    path = partial_path(home, task_id, node_id)
    digest = hashlib.sha256()
    size = 0
    with replace_atomically(path) as temp:
        with open(temp, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise ResultError(f"node {node_id}'s output of task {task_id} passes the "
                                      f"limit of {max_bytes} bytes; it was not stored")
                digest.update(chunk)
                out.write(chunk)
        rows = count_rows(temp)
    return path, rows, digest.hexdigest()


def read_partial(path: str | os.PathLike[str]) -> pa.Table:
    """A stored partial as a table, memory-mapped rather than read into memory.

    Raises ResultError if the file is missing or not an Arrow IPC stream.
    """
    try:
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_stream(source).read_all()
    except FileNotFoundError as exc:
        raise ResultError(f"partial {path} is missing; the node must report again") from exc
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise ResultError(f"partial {path} is not a valid Arrow IPC stream: {exc}") from exc


def write_provenance(
    home: str | os.PathLike[str], task_id: str, provenance: Mapping[str, Any]
) -> Path:
    """Writes the task's provenance record as JSON, atomically, and returns its path.

    Raises TypeError if the record holds values JSON cannot write (bytes: encode them
    as base64 first), ResultError for a bad task id.
    """
    data = json.dumps(dict(provenance), ensure_ascii=False, indent=2, sort_keys=True)
    path = provenance_path(home, task_id)
    with replace_atomically(path) as temp:
        temp.write_text(data + "\n", encoding="utf-8")
    return path


def load_provenance(home: str | os.PathLike[str], task_id: str) -> dict[str, Any]:
    """The task's provenance record; raises ResultError if it is missing or unreadable."""
    path = provenance_path(home, task_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ResultError(f"task {task_id} has no result yet; watch it until it finishes "
                          f"with `fedaudit task watch {task_id}`") from exc
    except (OSError, ValueError) as exc:
        raise ResultError(f"the provenance record {path} cannot be read: {exc}") from exc


def _batches(parquet: pq.ParquetFile, max_bytes: int) -> Iterator[pa.RecordBatch]:
    """The file's record batches, each about ``max_bytes`` in memory or less."""
    meta = parquet.metadata
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    row_bytes = max(1, size // max(1, meta.num_rows))
    batch_rows = max(1, min(65_536, max_bytes // row_bytes))
    for batch in parquet.iter_batches(batch_size=batch_rows):
        # Uncompressed sizes are estimates; slice a batch that turned out larger.
        if batch.nbytes > max_bytes and batch.num_rows > 1:
            step = max(1, batch.num_rows * max_bytes // batch.nbytes)
            for offset in range(0, batch.num_rows, step):
                yield batch.slice(offset, step)
        else:
            yield batch


def open_result(path: str | os.PathLike[str]) -> pq.ParquetFile:
    """The Parquet result at path; raises ResultError if it is missing or not Parquet."""
    try:
        return pq.ParquetFile(path)
    except FileNotFoundError as exc:
        raise ResultError(f"result {path} is missing") from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise ResultError(f"result {path} is not a Parquet file: {exc}") from exc


def result_chunks(path: str | os.PathLike[str], max_chunk: int = MAX_CHUNK) -> Iterator[bytes]:
    """Streams a Parquet result as one Arrow IPC stream, in chunks of at most ``max_chunk``.

    The file is read one record batch at a time, so memory stays near two chunks
    whatever the table's size; concatenated, the chunks are a complete IPC stream.
    Raises ResultError if the file is missing or not Parquet, ValueError if
    ``max_chunk`` is not positive.
    """
    from node.arrow_stream import ipc_chunks

    if max_chunk <= 0:
        raise ValueError(f"max_chunk must be positive, not {max_chunk}")
    with open_result(path) as parquet:
        yield from ipc_chunks(_batches(parquet, max_chunk), parquet.schema_arrow, max_chunk,
                              digest=False)
