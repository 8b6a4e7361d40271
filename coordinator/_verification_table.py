"""The task store's verification table: each node's latest case-outcome report per task.

A node reports the outcomes of its local cases as aggregates (never case detail); the
store keeps the latest report of each (task, node), replacing the one before. The JSON is
validated by `coordinator.verification` before it is stored here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from coordinator._sqlite import Database, UnknownTask, now_or_clock

__all__ = ["VerificationRecord", "VerificationTable"]

@dataclass(frozen=True)
class VerificationRecord:
    """A node's latest verification report of a task, as validated and stored."""

    task_id: str
    node_id: str
    report: dict[str, Any]
    reported_at: str  # when the node made it (ISO 8601, the node's clock)
    received_at: int  # when the coordinator stored it (Unix seconds)


class VerificationTable(Database):
    """The verification half of the task store; TaskStore mixes it in."""

    def put_verification(self, task_id: str, node_id: str, report: dict[str, Any],
                         reported_at: str, *, now: int | None = None) -> None:
        """Stores the node's report of the task, replacing its previous one.

        ``report`` must be JSON-serialisable (it is checked by the caller). Raises
        UnknownTask when the store does not hold the task.
        """
        text = json.dumps(report, ensure_ascii=False, sort_keys=True)
        with self._write() as db:
            if db.execute("SELECT 1 FROM tasks WHERE task_id = ?", (task_id,)).fetchone() is None:
                raise UnknownTask(f"no task {task_id} in this coordinator; check the task id")
            db.execute(
                "INSERT INTO verification_reports (task_id, node_id, report, reported_at, "
                "received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (task_id, node_id) DO UPDATE "
                "SET report = excluded.report, reported_at = excluded.reported_at, "
                "received_at = excluded.received_at",
                (task_id, node_id, text, reported_at, now_or_clock(now)))

    def verifications(self, task_id: str) -> list[VerificationRecord]:
        """The latest report of every node that reported on the task, by node id."""
        with self._read() as db:
            rows = db.execute("SELECT * FROM verification_reports WHERE task_id = ? "
                              "ORDER BY node_id", (task_id,)).fetchall()
        return [VerificationRecord(r["task_id"], r["node_id"], json.loads(r["report"]),
                                   r["reported_at"], r["received_at"]) for r in rows]
