"""The node's replay store: remembers every task id it consumed, so a task runs at most once."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from node.durable import set_up_sqlite
from node.errors import NodeError

__all__ = ["ReplayStore", "TaskReplayed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consumed (
    task_id     TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS consumed_expires_at ON consumed (expires_at);
"""

#: How long (seconds) a process waits for another one holding the database's write lock.
#: Inserts are tiny, so a long wait means something is stuck rather than busy.
_BUSY_TIMEOUT = 30.0


class TaskReplayed(NodeError):
    """A task id the node has already consumed was presented again."""

    #: The refusal code reported to HQ, like the other verification refusals.
    code = "REPLAYED"

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.reason = (
            f"task {task_id} was already run on this node; a task runs at most once, so "
            "ask the issuer to draft and sign a new task if it must run again"
        )
        super().__init__(self.reason)


class ReplayStore:
    """Task ids already consumed by this node, in an SQLite file (WAL mode).

    Several processes may share one file: ``consume`` relies on the table's primary key,
    so of two processes consuming the same id exactly one wins. Each write is synced
    before ``consume`` returns, so a consumed id survives a crash.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Opens (creating if needed) the store at ``path``.

        Raises sqlite3.DatabaseError if the file is not an SQLite database, or if another
        process keeps it locked for longer than 30 seconds.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit (isolation_level=None): every statement is its own transaction.
        self._db = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        try:
            # FULL syncs the WAL on every commit: a consumed id must outlive a power cut.
            self._db.execute("PRAGMA synchronous=FULL")
            self._set_up()
        except BaseException:
            self._db.close()
            raise

    def _set_up(self) -> None:
        """Switches the file to WAL mode and creates the tables (node.durable)."""
        set_up_sqlite(self._db, _SCHEMA, _BUSY_TIMEOUT)

    def __repr__(self) -> str:
        return f"ReplayStore({str(self.path)!r})"

    def __enter__(self) -> ReplayStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the database connection; the store cannot be used afterwards."""
        with self._lock:
            self._db.close()

    def seen(self, task_id: str) -> bool:
        """Says whether ``task_id`` was consumed; for display, never as the replay check.

        Use ``consume`` to decide whether to run a task: checking then inserting would let
        two deliveries of one task both pass. Raises ValueError for an empty task id.
        """
        _check_task_id(task_id)
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM consumed WHERE task_id = ?", (task_id,)
            ).fetchone()
        return row is not None

    def consume(self, task_id: str, expires_at: int) -> None:
        """Records ``task_id`` as consumed, atomically and durably.

        Raises TaskReplayed if the id was consumed before (by any process sharing the
        file), ValueError for an empty task id and TypeError if ``expires_at`` is not an
        integer (Unix seconds).
        """
        _check_task_id(task_id)
        if type(expires_at) is not int:
            raise TypeError(f"expires_at must be Unix seconds as an int, not {expires_at!r}")
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO consumed (task_id, expires_at, consumed_at) VALUES (?, ?, ?)",
                    (task_id, expires_at, int(time.time())),
                )
        except sqlite3.IntegrityError:
            raise TaskReplayed(task_id) from None

    def prune(self, now: int, keep_seconds: int) -> int:
        """Forgets ids whose ``expires_at + keep_seconds < now`` and returns how many.

        A pruned id cannot be replayed anyway: its task has expired, so the validity
        check refuses it as EXPIRED before the replay check runs. Keep ``keep_seconds``
        at least the allowed clock skew. Raises ValueError if ``keep_seconds`` is negative.
        """
        if keep_seconds < 0:
            raise ValueError(f"keep_seconds must be 0 or more, not {keep_seconds}")
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM consumed WHERE expires_at + ? < ?", (keep_seconds, now)
            )
        return cursor.rowcount

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM consumed").fetchone()
        return count


def _check_task_id(task_id: str) -> None:
    if not isinstance(task_id, str) or not task_id:
        raise ValueError(f"a task id must be a non-empty string, not {task_id!r}")
