"""The task store's linkage tables: key envelopes relayed blind, and each node's return.

The schema lives with the others in coordinator._sqlite.

An envelope is stored exactly as the key originator sent it (JSON of a signed, HPKE-sealed
task key for one recipient); the coordinator cannot open it and never holds the key. A
return is the file of one node's own matched tokens after the blind join, with its state:
``ready`` (waiting for the node), ``processed`` (the node opened its cases) or ``refused``
(the node refused it, with its reason).
"""

from __future__ import annotations

from dataclasses import dataclass

from coordinator._sqlite import Database, StoreError, now_or_clock

__all__ = ["LinkageTable", "ReturnRecord"]

@dataclass(frozen=True)
class ReturnRecord:
    task_id: str
    node_id: str
    path: str
    rows: int
    digest: str
    state: str
    message: str | None
    updated_at: int


class LinkageTable(Database):
    """Key envelopes and returns (mixed into coordinator.store.TaskStore)."""

    def put_envelopes(self, task_id: str, sender: str,
                      envelopes: dict[str, bytes], *, now: int | None = None) -> None:
        """Stores one envelope per recipient. Sending the same envelope again is a no-op;
        a different envelope for a recipient that has one raises StoreError (the key of a
        task never changes)."""
        with self._write() as db:
            for recipient, envelope in sorted(envelopes.items()):
                row = db.execute("SELECT envelope FROM key_envelopes WHERE task_id = ? AND "
                                 "recipient = ?", (task_id, recipient)).fetchone()
                if row is not None:
                    if bytes(row[0]) != envelope:
                        raise StoreError(f"task {task_id} already has a key envelope for "
                                         f"{recipient}; the key of a task never changes")
                    continue
                db.execute("INSERT INTO key_envelopes (task_id, recipient, sender, envelope, "
                           "stored_at) VALUES (?, ?, ?, ?, ?)",
                           (task_id, recipient, sender, envelope, now_or_clock(now)))
            self._touch(db, task_id)

    def envelope(self, task_id: str, recipient: str) -> bytes | None:
        with self._read() as db:
            row = db.execute("SELECT envelope FROM key_envelopes WHERE task_id = ? AND "
                             "recipient = ?", (task_id, recipient)).fetchone()
        return None if row is None else bytes(row[0])

    def put_returns(self, task_id: str, returns: dict[str, tuple[str, int, str]],
                    *, now: int | None = None) -> None:
        """Records each node's return file: node -> (path, rows, digest), state ready."""
        with self._write() as db:
            for node_id, (path, rows, digest) in sorted(returns.items()):
                db.execute("INSERT OR REPLACE INTO returns (task_id, node_id, path, rows, "
                           "digest, state, updated_at) VALUES (?, ?, ?, ?, ?, 'ready', ?)",
                           (task_id, node_id, path, rows, digest, now_or_clock(now)))
            self._touch(db, task_id)

    def return_of(self, task_id: str, node_id: str) -> ReturnRecord | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM returns WHERE task_id = ? AND node_id = ?",
                             (task_id, node_id)).fetchone()
        return None if row is None else ReturnRecord(**dict(row))

    def returns_ready(self, node_id: str) -> list[str]:
        """Task ids whose return for node_id waits for the node."""
        with self._read() as db:
            rows = db.execute("SELECT task_id FROM returns WHERE node_id = ? AND state = "
                              "'ready' ORDER BY updated_at, task_id", (node_id,)).fetchall()
        return [r[0] for r in rows]

    def returns_of(self, task_id: str) -> list[ReturnRecord]:
        with self._read() as db:
            rows = db.execute("SELECT * FROM returns WHERE task_id = ? ORDER BY node_id",
                              (task_id,)).fetchall()
        return [ReturnRecord(**dict(r)) for r in rows]

    def set_return_state(self, task_id: str, node_id: str, state: str,
                         message: str | None = None, *, now: int | None = None) -> None:
        """Marks a node's return processed or refused; raises StoreError if there is none."""
        with self._write() as db:
            changed = db.execute("UPDATE returns SET state = ?, message = ?, updated_at = ? "
                                 "WHERE task_id = ? AND node_id = ?",
                                 (state, message, now_or_clock(now), task_id, node_id)).rowcount
            if not changed:
                raise StoreError(f"node {node_id} has no return of task {task_id}")
            self._touch(db, task_id)
