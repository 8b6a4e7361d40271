"""The SQLite plumbing under the task store: schema, errors, transactions, change counter.

One connection serves every thread behind a lock (gRPC servicers call the store from a
thread pool). Every write is one IMMEDIATE transaction, synced to disk (WAL,
``synchronous=FULL``) before the call returns, and then wakes the store's watchers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

__all__ = [
    "SCHEMA_VERSION",
    "Database",
    "DuplicateTask",
    "StoreError",
    "UnknownNode",
    "UnknownTask",
    "now_or_clock",
    "to_json",
]

#: The layout of ``coordinator.db``; bump it and add a migration when the schema changes.
#: Version 2 added the sharing tables (result_meta, grants, share_requests); version 3 the
#: linkage tables (key_envelopes, returns, verification_reports).
SCHEMA_VERSION = 3

#: Results as owned objects: their classification, the grants made on them, and the
#: offices' requests to re-share them. Each stores the signed document as received.
_SHARING_SCHEMA = (
    """CREATE TABLE result_meta (
        task_id        TEXT PRIMARY KEY REFERENCES tasks (task_id) ON DELETE CASCADE,
        classification TEXT NOT NULL
                       CHECK (classification IN ('internal', 'restricted', 'confidential')),
        document       TEXT NOT NULL,
        set_by         TEXT NOT NULL,
        set_at         INTEGER NOT NULL
    ) STRICT""",
    """CREATE TABLE grants (
        grant_id      TEXT PRIMARY KEY,
        task_id       TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        office_id     TEXT NOT NULL,
        purpose       TEXT NOT NULL,
        parts         TEXT NOT NULL CHECK (parts IN ('aggregate', 'flags', 'all')),
        regions       TEXT NOT NULL,
        not_before    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        issued_by     TEXT NOT NULL,
        signers       TEXT NOT NULL,
        document      TEXT NOT NULL,
        request_id    TEXT,
        created_at    INTEGER NOT NULL,
        revoked_at    INTEGER,
        revoked_by    TEXT,
        revoke_reason TEXT
    ) STRICT""",
    """CREATE INDEX grants_by_task ON grants (task_id, office_id)""",
    """CREATE INDEX grants_by_office ON grants (office_id)""",
    """CREATE TABLE share_requests (
        request_id       TEXT PRIMARY KEY,
        task_id          TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        requested_by     TEXT NOT NULL,
        for_office       TEXT NOT NULL,
        purpose          TEXT NOT NULL,
        parts            TEXT NOT NULL CHECK (parts IN ('aggregate', 'flags', 'all')),
        regions          TEXT NOT NULL,
        duration_seconds INTEGER NOT NULL,
        note             TEXT NOT NULL DEFAULT '',
        state            TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'declined')),
        created_at       INTEGER NOT NULL,
        decided_by       TEXT,
        decided_at       INTEGER,
        reason           TEXT,
        grant_id         TEXT
    ) STRICT""",
    """CREATE INDEX share_requests_by_task ON share_requests (task_id, state)""",
)

#: Statements that bring a store of the key's version to the next version.
#: Linkage tasks: key envelopes relayed blind, each node's return of its own matches, and
#: each node's latest verification report (coordinator._linkage_table, _verification_table).
_LINKAGE_SCHEMA = (
    """CREATE TABLE key_envelopes (
        task_id    TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        recipient  TEXT NOT NULL,
        sender     TEXT NOT NULL,
        envelope   BLOB NOT NULL,
        stored_at  INTEGER NOT NULL,
        PRIMARY KEY (task_id, recipient)
    ) STRICT""",
    """CREATE TABLE returns (
        task_id    TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        node_id    TEXT NOT NULL,
        path       TEXT NOT NULL,
        rows       INTEGER NOT NULL,
        digest     TEXT NOT NULL,
        state      TEXT NOT NULL CHECK (state IN ('ready', 'processed', 'refused')),
        message    TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (task_id, node_id)
    ) STRICT""",
    """CREATE TABLE verification_reports (
        task_id     TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        node_id     TEXT NOT NULL,
        report      TEXT NOT NULL,
        reported_at TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (task_id, node_id)
    ) STRICT""",
)

_MIGRATIONS = {1: _SHARING_SCHEMA, 2: _LINKAGE_SCHEMA}

#: The tables of schema version 1.
_TASK_SCHEMA = (
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT""",
    """CREATE TABLE tasks (
        task_id          TEXT PRIMARY KEY,
        analysis_id      TEXT NOT NULL,
        analysis_version TEXT NOT NULL,
        analysis_digest  TEXT NOT NULL,
        output_kind      TEXT NOT NULL,
        submitted_by     TEXT NOT NULL,
        signed_task      BLOB NOT NULL,
        deadline         INTEGER NOT NULL,
        submitted_at     INTEGER NOT NULL,
        state            TEXT NOT NULL
                         CHECK (state IN ('running', 'complete', 'partial', 'failed')),
        version          INTEGER NOT NULL,
        result_path      TEXT,
        provenance       TEXT,
        message          TEXT NOT NULL DEFAULT '',
        finished_at      INTEGER
    ) STRICT""",
    """CREATE INDEX tasks_by_state ON tasks (state, deadline)""",
    """CREATE INDEX tasks_by_version ON tasks (version)""",
    """CREATE TABLE deliveries (
        task_id           TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        node_id           TEXT NOT NULL,
        state             TEXT NOT NULL CHECK (state IN
                          ('pending', 'delivered', 'held', 'done', 'refused', 'failed', 'missing')),
        updated_at        INTEGER NOT NULL,
        refusal_code      TEXT,
        message           TEXT,
        row_count         INTEGER,
        partial_path      TEXT,
        receipt           BLOB,
        receipt_signature BLOB,
        snapshots         TEXT,
        disclosure        TEXT,
        PRIMARY KEY (task_id, node_id)
    ) STRICT""",
    """CREATE INDEX deliveries_by_node ON deliveries (node_id, state)""",
    """CREATE TABLE nodes (
        node_id          TEXT PRIMARY KEY,
        catalog          TEXT NOT NULL,
        library_digest   TEXT NOT NULL,
        software_version TEXT NOT NULL,
        policy_json      TEXT NOT NULL,
        connections      INTEGER NOT NULL DEFAULT 0,
        last_seen        INTEGER NOT NULL,
        hello_at         INTEGER NOT NULL
    ) STRICT""",
)

#: The whole schema, created in one transaction when the file is new.
_SCHEMA = _TASK_SCHEMA + _SHARING_SCHEMA + _LINKAGE_SCHEMA

#: How long (seconds) a call waits for another process holding the write lock (a CLI
#: command reading the store while the coordinator runs, say).
_BUSY_TIMEOUT = 30.0


class StoreError(Exception):
    """A request the task store's state does not allow; the message says why and what next."""


class DuplicateTask(StoreError):
    """A task id that the store already holds."""


class UnknownTask(StoreError):
    """A task id that the store does not hold."""


class UnknownNode(StoreError):
    """A node that never said hello to this coordinator."""


def now_or_clock(now: int | None) -> int:
    """``now`` as an int, or the clock's Unix seconds when it is None."""
    return int(time.time()) if now is None else int(now)


def to_json(value: Any) -> str | None:
    """``value`` as compact JSON text, None as SQL NULL; raises TypeError for non-JSON values."""
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


class Database:
    """The SQLite file of a task store, with its lock, transactions and change counter."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Opens the store at ``path``, creating the file and its schema if needed.

        Raises StoreError if the file is not a task store or has another schema version.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._changed = threading.Condition(threading.Lock())
        self._closed = False
        # Autocommit mode: transactions are opened explicitly by _write.
        self._db = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            # FULL syncs the WAL on every commit: an accepted task must outlive a power cut.
            self._db.execute("PRAGMA synchronous = FULL")
            self._set_up()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{self.path} is not a coordinator task store ({exc}); move it "
                             "away or point the coordinator at another home") from exc
        except BaseException:
            self._db.close()
            raise

    def _set_up(self) -> None:
        """Creates the schema in a new file, or checks the schema version of an old one."""
        with self._write(notify=False) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = "
                                               "'table'")}
            if not tables:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                               [("schema_version", SCHEMA_VERSION), ("version", 0)])
                return
            row = None
            if "meta" in tables:
                row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                raise StoreError(f"{self.path} is an SQLite file but not a coordinator task "
                                 "store; move it away or point the coordinator at another home")
            version = row[0]
            while version in _MIGRATIONS and version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version]:
                    db.execute(statement)
                version += 1
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
            if version != SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {row[0]}, this coordinator "
                                 f"reads version {SCHEMA_VERSION}; run the coordinator version "
                                 "that wrote it, or upgrade this one")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the store and wakes every watcher; later calls raise StoreError."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
        with self._changed:
            self._changed.notify_all()

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._check_open()
            yield self._db

    @contextmanager
    def _write(self, *, notify: bool = True) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, committed (and synced) on exit, rolled back on error."""
        with self._lock:
            self._check_open()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        if notify:
            with self._changed:
                self._changed.notify_all()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the task store is closed; open it again")

    @staticmethod
    def _bump(db: sqlite3.Connection) -> int:
        """Increments and returns the store-wide change counter (inside a transaction)."""
        # fetchall steps the statement to its end, so the COMMIT finds nothing in progress.
        rows = db.execute("UPDATE meta SET value = value + 1 WHERE key = 'version' "
                          "RETURNING value").fetchall()
        return rows[0][0]
