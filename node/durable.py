"""Durability helpers: flush a file or a folder's entries to disk before relying on them,
and set up a node's SQLite stores (WAL) safely when several processes open them at once.

Shared by the node's catalog, audit log, key store, replay and case stores, and by the
coordinator's result files, so every "write, fsync, rename, fsync the folder" sequence uses
the same calls.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def set_up_sqlite(db: sqlite3.Connection, schema: str, busy_timeout: float) -> None:
    """Switches db to WAL mode and runs schema (idempotent DDL), retrying while locked.

    SQLite does not call the busy handler while changing the journal mode, so two
    processes opening a new file at once can get "database is locked" immediately; this
    retries with a growing pause for up to busy_timeout seconds, then raises.
    """
    deadline, delay = time.monotonic() + busy_timeout, 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def fsync_file(path: Path) -> None:
    """Flushes a file's content to disk; raises OSError."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Makes a rename or unlink inside the folder durable; raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def replace_atomically(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields a temporary path next to ``path``; on success it replaces ``path`` atomically.

    Write the file at the yielded path and close it; when the block ends without an
    exception the file is synced, renamed over ``path`` and the folder synced. On an
    exception the temporary file is removed and ``path`` is left as it was. Raises
    OSError when the folder cannot be created or written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        with open(temp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
