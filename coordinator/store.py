"""The coordinator's durable task store: tasks, per-node deliveries and nodes in SQLite.

Every write is one transaction, synced to disk (WAL, ``synchronous=FULL``) before the call
returns, so a restarted coordinator loses nothing. One connection serves every thread
behind a lock; gRPC servicers call the store from a thread pool. Every write also bumps a
store-wide counter and stamps the changed task with it, so ``wait_for_change`` can wake a
watcher as soon as its task moves. The record types live in ``coordinator.records``, the
SQLite plumbing and schema in ``coordinator._sqlite``, the node table in
``coordinator._nodes``, the sharing tables (grants) in ``coordinator._grants``, the nodes'
verification reports of linkage tasks in ``coordinator._verification_table``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

from coordinator._grants import GrantTable
from coordinator._linkage_table import LinkageTable
from coordinator._nodes import NodeTable
from coordinator._sqlite import (
    SCHEMA_VERSION,
    DuplicateTask,
    StoreError,
    UnknownNode,
    UnknownTask,
    now_or_clock,
    to_json,
)
from coordinator._verification_table import VerificationTable
from coordinator.records import (
    FINAL_DELIVERY_STATES,
    REPORT_STATES,
    TaskRecord,
    delivery_from_row,
    task_from_row,
)

__all__ = [
    "SCHEMA_VERSION",
    "DuplicateTask",
    "StoreError",
    "TaskStore",
    "UnknownNode",
    "UnknownTask",
]


class TaskStore(GrantTable, NodeTable, LinkageTable, VerificationTable):
    """Tasks, deliveries, nodes, grants and verification reports of one coordinator.

    The store is the SQLite file at ``path``: open it with ``TaskStore(path)``; it raises
    StoreError if the file is not a task store or has another schema version. Close it
    with ``close()`` or a ``with`` block.
    """

    def __repr__(self) -> str:
        return f"TaskStore({str(self.path)!r})"

    def _touch(self, db: sqlite3.Connection, task_id: str) -> None:
        db.execute("UPDATE tasks SET version = ? WHERE task_id = ?", (self._bump(db), task_id))

    @staticmethod
    def _task_row(db: sqlite3.Connection, task_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        if row is None:
            raise UnknownTask(f"no task {task_id} in this coordinator; check the task id")
        return row

    # -- tasks ---------------------------------------------------------------------------

    def add_task(
        self,
        task_id: str,
        analysis_id: str,
        analysis_version: str,
        analysis_digest: str,
        output_kind: str,
        submitted_by: str,
        signed_task: bytes,
        targets: Sequence[str],
        deadline: int,
        submitted_at: int,
    ) -> None:
        """Stores a new running task and one pending delivery per target, atomically.

        Duplicate target ids are stored once. Raises DuplicateTask if ``task_id`` is
        known, StoreError if there is no target, and ValueError for an empty task id.
        """
        if not isinstance(task_id, str) or not task_id:
            raise ValueError(f"a task id must be a non-empty string, not {task_id!r}")
        nodes = list(dict.fromkeys(targets))
        if not nodes:
            raise StoreError(f"task {task_id} has no target node; name at least one")
        with self._write() as db:
            if db.execute("SELECT 1 FROM tasks WHERE task_id = ?", (task_id,)).fetchone():
                raise DuplicateTask(f"task {task_id} was already submitted; draft and sign a "
                                    "new task to run the analysis again")
            db.execute(
                "INSERT INTO tasks (task_id, analysis_id, analysis_version, analysis_digest, "
                "output_kind, submitted_by, signed_task, deadline, submitted_at, state, "
                "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                (task_id, analysis_id, analysis_version, analysis_digest, output_kind,
                 submitted_by, bytes(signed_task), int(deadline), int(submitted_at),
                 self._bump(db)),
            )
            db.executemany(
                "INSERT INTO deliveries (task_id, node_id, state, updated_at) "
                "VALUES (?, ?, 'pending', ?)",
                [(task_id, node, int(submitted_at)) for node in nodes],
            )

    def task(self, task_id: str) -> TaskRecord | None:
        """The task with its deliveries, or None if the store does not hold it."""
        with self._read() as db:
            row = db.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
            if row is None:
                return None
            deliveries = db.execute("SELECT * FROM deliveries WHERE task_id = ? "
                                    "ORDER BY node_id", (task_id,)).fetchall()
        return task_from_row(row, tuple(delivery_from_row(d) for d in deliveries))

    def tasks(self) -> list[TaskRecord]:
        """Every task, oldest submission first."""
        with self._read() as db:
            rows = db.execute("SELECT * FROM tasks ORDER BY submitted_at, task_id").fetchall()
            deliveries = db.execute("SELECT * FROM deliveries ORDER BY node_id").fetchall()
        by_task: dict[str, list] = {}
        for d in deliveries:
            by_task.setdefault(d["task_id"], []).append(delivery_from_row(d))
        return [task_from_row(r, tuple(by_task.get(r["task_id"], ()))) for r in rows]

    def pending_for(self, node_id: str) -> list[tuple[str, bytes]]:
        """(task id, serialized SignedTask) of every open task the node has not reported on.

        Deliveries already sent but not reported are included, so a reconnecting node gets
        them again (the node itself runs a task at most once). Oldest submission first.
        """
        with self._read() as db:
            rows = db.execute(
                "SELECT t.task_id, t.signed_task FROM deliveries d JOIN tasks t USING (task_id) "
                "WHERE d.node_id = ? AND d.state IN ('pending', 'delivered', 'held') "
                "AND t.state = 'running' ORDER BY t.submitted_at, t.task_id",
                (node_id,),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def mark_delivered(self, task_id: str, node_id: str, *, now: int | None = None) -> None:
        """Records that the task was sent to the node; a no-op unless it was ``pending``.

        A report may overtake this call, so a final delivery is left as it is. Raises
        StoreError if the node is not a target of the task.
        """
        with self._write() as db:
            state = self._delivery_state(db, task_id, node_id)
            if state == "pending":
                db.execute("UPDATE deliveries SET state = 'delivered', updated_at = ? "
                           "WHERE task_id = ? AND node_id = ?",
                           (now_or_clock(now), task_id, node_id))
                self._touch(db, task_id)

    @staticmethod
    def _delivery_state(db: sqlite3.Connection, task_id: str, node_id: str) -> str:
        row = db.execute("SELECT state FROM deliveries WHERE task_id = ? AND node_id = ?",
                         (task_id, node_id)).fetchone()
        if row is None:
            raise StoreError(f"node {node_id} has no delivery of task {task_id}: either the "
                             "task id is wrong or the node is not one of its targets")
        return row[0]

    def record_report(
        self,
        task_id: str,
        node_id: str,
        state: str,
        *,
        refusal_code: str | None = None,
        message: str | None = None,
        rows: int | None = None,
        partial_path: str | os.PathLike[str] | None = None,
        receipt: bytes | None = None,
        receipt_signature: bytes | None = None,
        snapshots: Sequence[Any] | None = None,
        disclosure: Mapping[str, Any] | None = None,
        now: int | None = None,
    ) -> bool:
        """Records a node's final report on a task; returns False if it was a repeat.

        ``state`` is ``done`` (needs ``rows`` and ``partial_path``), ``refused`` (needs
        ``refusal_code``) or ``failed``. Reporting the same state again changes nothing
        and returns False. Raises StoreError if the node is not a target of the task, if
        the delivery already holds another final state (a node reports a task once; a
        report after the deadline finds it ``missing``), or if a required field is
        missing; ValueError for a state a node cannot report.
        """
        if state not in REPORT_STATES:
            raise ValueError(f"a node reports one of {', '.join(REPORT_STATES)}, not {state!r}")
        if state == "done" and (rows is None or partial_path is None):
            raise StoreError(f"node {node_id}'s done report of task {task_id} needs its row "
                             "count and partial file")
        if state == "refused" and not refusal_code:
            raise StoreError(f"node {node_id}'s refusal of task {task_id} needs its refusal code")
        with self._write() as db:
            current = self._delivery_state(db, task_id, node_id)
            if current == state:
                return False
            if current in FINAL_DELIVERY_STATES:
                late = " (the deadline passed first)" if current == "missing" else ""
                raise StoreError(f"node {node_id} already reported task {task_id} as "
                                 f"{current}{late}; a node reports a task once")
            db.execute(
                "UPDATE deliveries SET state = ?, updated_at = ?, refusal_code = ?, message = ?, "
                "row_count = ?, partial_path = ?, receipt = ?, receipt_signature = ?, "
                "snapshots = ?, disclosure = ? WHERE task_id = ? AND node_id = ?",
                (state, now_or_clock(now), refusal_code, message,
                 None if rows is None else int(rows),
                 None if partial_path is None else str(partial_path),
                 None if receipt is None else bytes(receipt),
                 None if receipt_signature is None else bytes(receipt_signature),
                 to_json(None if snapshots is None else list(snapshots)),
                 to_json(None if disclosure is None else dict(disclosure)),
                 task_id, node_id),
            )
            self._touch(db, task_id)
        return True

    def ready_to_combine(self, now: int) -> list[str]:
        """Running tasks whose every delivery is final, or whose deadline is at or before now."""
        with self._read() as db:
            rows = db.execute(
                "SELECT task_id FROM tasks t WHERE state = 'running' AND (deadline <= ? OR "
                "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.task_id = t.task_id "
                "AND d.state IN ('pending', 'delivered', 'held'))) ORDER BY submitted_at, task_id",
                (int(now),),
            ).fetchall()
        return [r[0] for r in rows]

    def mark_missing(self, task_id: str, *, now: int | None = None) -> list[str]:
        """Marks the task's unreported deliveries ``missing``; returns their node ids.

        Call it when the deadline passed, before finishing the task. Raises UnknownTask.
        """
        with self._write() as db:
            self._task_row(db, task_id)
            rows = db.execute(
                "UPDATE deliveries SET state = 'missing', updated_at = ? WHERE task_id = ? "
                "AND state IN ('pending', 'delivered', 'held') RETURNING node_id",
                (now_or_clock(now), task_id),
            ).fetchall()
            if rows:
                self._touch(db, task_id)
        return sorted(r[0] for r in rows)

    def finish_task(
        self,
        task_id: str,
        state: str,
        result_path: str | os.PathLike[str] | None,
        provenance: Mapping[str, Any],
        *,
        message: str = "",
        now: int | None = None,
    ) -> None:
        """Closes a running task as complete, partial or failed, with its result.

        ``complete`` and ``partial`` must match the deliveries (see TaskRecord.outcome) and
        need a result path; ``failed`` is always allowed (the combine step may fail).
        Raises UnknownTask; StoreError if the task is already finished or a delivery is not
        final yet (call ``mark_missing`` first) or the state does not match; ValueError
        for an unknown state or a missing result path.
        """
        if state not in ("complete", "partial", "failed"):
            raise ValueError(f"a task finishes as complete, partial or failed, not {state!r}")
        if state != "failed" and result_path is None:
            raise ValueError(f"a {state} task needs its result path")
        with self._write() as db:
            row = self._task_row(db, task_id)
            if row["state"] != "running":
                raise StoreError(f"task {task_id} is already finished as {row['state']}")
            deliveries = db.execute("SELECT * FROM deliveries WHERE task_id = ?",
                                    (task_id,)).fetchall()
            record = task_from_row(row, tuple(delivery_from_row(d) for d in deliveries))
            if not record.settled:
                waiting = ", ".join(d.node_id for d in record.deliveries if not d.final)
                raise StoreError(f"task {task_id} still waits for {waiting}; call mark_missing "
                                 "before finishing it")
            if state != "failed" and state != record.outcome:
                raise StoreError(f"task {task_id}'s deliveries make it {record.outcome}, "
                                 f"not {state}")
            db.execute(
                "UPDATE tasks SET state = ?, result_path = ?, provenance = ?, message = ?, "
                "finished_at = ?, version = ? WHERE task_id = ?",
                (state, None if result_path is None else str(result_path),
                 to_json(dict(provenance)), message, now_or_clock(now), self._bump(db), task_id),
            )

    # -- change tracking -----------------------------------------------------------------

    @property
    def version(self) -> int:
        """The store-wide change counter: it grows with every change to any task."""
        with self._read() as db:
            return db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]

    def updated_since(self, version: int) -> list[tuple[str, int]]:
        """(task id, version) of every task changed after ``version``, oldest change first."""
        with self._read() as db:
            rows = db.execute("SELECT task_id, version FROM tasks WHERE version > ? "
                              "ORDER BY version", (version,)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def wait_for_change(self, task_id: str, last_version: int, timeout: float) -> int:
        """Waits until the task's version differs from ``last_version``; returns the version.

        Returns the unchanged version when ``timeout`` seconds pass first. Wakes on every
        write made through this TaskStore instance. Raises UnknownTask, and StoreError
        once the store is closed.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                with self._read() as db:
                    current = self._task_row(db, task_id)["version"]
                remaining = deadline - time.monotonic()
                if current != last_version or remaining <= 0:
                    return current
                self._changed.wait(remaining)
