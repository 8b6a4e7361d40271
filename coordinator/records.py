"""The task store's read-only records: tasks, their per-node deliveries, and nodes.

A task is ``running`` until the combine step finishes it as ``complete`` (every target
answered ``done``), ``partial`` (at least one ``done``, the others refused, failed or
missing) or ``failed`` (none ``done``, or the combine step itself failed). A delivery is
``pending`` (not yet sent), ``delivered`` (sent on an open stream, not yet reported),
``held`` (the node's policy holds the output for its operator's manual release), or
final: ``done``, ``refused``, ``failed`` or ``missing`` (no report before the deadline).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DELIVERY_STATES",
    "FINAL_DELIVERY_STATES",
    "REPORT_STATES",
    "TASK_STATES",
    "DeliveryRecord",
    "NodeRecord",
    "TaskRecord",
]

#: Every state of a task; only ``running`` is open.
TASK_STATES = ("running", "complete", "partial", "failed")

#: Every state of one node's delivery of one task, in the order they are reached.
DELIVERY_STATES = ("pending", "delivered", "held", "done", "refused", "failed", "missing")

#: Delivery states that never change again.
FINAL_DELIVERY_STATES = frozenset({"done", "refused", "failed", "missing"})

#: The states a node can report; ``missing`` is set by the coordinator alone.
REPORT_STATES = ("held", "done", "refused", "failed")


@dataclass(frozen=True)
class DeliveryRecord:
    """One target node's delivery of one task, with the node's report once it came.

    ``receipt`` and ``receipt_signature`` are the exact bytes the node signed and its
    signature; ``snapshots`` and ``disclosure`` are copied from the receipt for display.
    """

    task_id: str
    node_id: str
    state: str
    updated_at: int
    refusal_code: str | None = None
    message: str | None = None
    rows: int | None = None
    partial_path: str | None = None
    receipt: bytes | None = None
    receipt_signature: bytes | None = None
    snapshots: tuple[Any, ...] | None = None
    disclosure: dict[str, Any] | None = None

    @property
    def final(self) -> bool:
        """Whether the delivery reached a state that never changes again."""
        return self.state in FINAL_DELIVERY_STATES


@dataclass(frozen=True)
class TaskRecord:
    """A submitted task with its deliveries, as stored.

    ``version`` grows every time the task or one of its deliveries changes, so a watcher
    can tell whether it has seen the latest state. ``signed_task`` is the serialized
    SignedTask protobuf exactly as submitted.
    """

    task_id: str
    analysis_id: str
    analysis_version: str
    analysis_digest: str
    output_kind: str
    submitted_by: str
    signed_task: bytes
    deadline: int
    submitted_at: int
    state: str
    version: int
    deliveries: tuple[DeliveryRecord, ...]
    result_path: str | None = None
    provenance: dict[str, Any] | None = None
    message: str = ""
    finished_at: int | None = None

    @property
    def analysis(self) -> str:
        """The analysis as people write it, ``id@version``."""
        return f"{self.analysis_id}@{self.analysis_version}"

    @property
    def open(self) -> bool:
        """Whether the task still waits for reports or for its combine step."""
        return self.state == "running"

    @property
    def settled(self) -> bool:
        """Whether every delivery reached a final state."""
        return all(d.final for d in self.deliveries)

    @property
    def outcome(self) -> str:
        """The state the deliveries call for: complete, partial or failed.

        Deliveries that are not final count as not done, so call it once the task is
        settled (after ``TaskStore.mark_missing``) to get the state to finish it with.
        """
        done = sum(d.state == "done" for d in self.deliveries)
        if done and done == len(self.deliveries):
            return "complete"
        return "partial" if done else "failed"

    def delivery(self, node_id: str) -> DeliveryRecord:
        """The delivery to ``node_id``; raises KeyError if the node is not a target."""
        for delivery in self.deliveries:
            if delivery.node_id == node_id:
                return delivery
        raise KeyError(f"node {node_id} is not a target of task {self.task_id}")


@dataclass(frozen=True)
class NodeRecord:
    """What the coordinator knows of a node from its last hello and its streams.

    ``connections`` counts the node's open delivery streams (a reconnecting node may open
    the new one before the old one is noticed closed); ``connected`` is ``connections > 0``.
    """

    node_id: str
    catalog: tuple[dict[str, Any], ...]
    library_digest: str
    software_version: str
    policy_json: str
    connections: int
    last_seen: int
    hello_at: int

    @property
    def connected(self) -> bool:
        """Whether at least one delivery stream of the node is open."""
        return self.connections > 0


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def delivery_from_row(row: sqlite3.Row) -> DeliveryRecord:
    """Builds a DeliveryRecord from a row of the ``deliveries`` table."""
    snapshots = _json(row["snapshots"])
    return DeliveryRecord(
        task_id=row["task_id"],
        node_id=row["node_id"],
        state=row["state"],
        updated_at=row["updated_at"],
        refusal_code=row["refusal_code"],
        message=row["message"],
        rows=row["row_count"],
        partial_path=row["partial_path"],
        receipt=row["receipt"],
        receipt_signature=row["receipt_signature"],
        snapshots=None if snapshots is None else tuple(snapshots),
        disclosure=_json(row["disclosure"]),
    )


def task_from_row(row: sqlite3.Row, deliveries: tuple[DeliveryRecord, ...]) -> TaskRecord:
    """Builds a TaskRecord from a row of the ``tasks`` table and its deliveries."""
    return TaskRecord(
        task_id=row["task_id"],
        analysis_id=row["analysis_id"],
        analysis_version=row["analysis_version"],
        analysis_digest=row["analysis_digest"],
        output_kind=row["output_kind"],
        submitted_by=row["submitted_by"],
        signed_task=row["signed_task"],
        deadline=row["deadline"],
        submitted_at=row["submitted_at"],
        state=row["state"],
        version=row["version"],
        deliveries=deliveries,
        result_path=row["result_path"],
        provenance=_json(row["provenance"]),
        message=row["message"],
        finished_at=row["finished_at"],
    )


def node_from_row(row: sqlite3.Row) -> NodeRecord:
    """Builds a NodeRecord from a row of the ``nodes`` table."""
    return NodeRecord(
        node_id=row["node_id"],
        catalog=tuple(_json(row["catalog"]) or ()),
        library_digest=row["library_digest"],
        software_version=row["software_version"],
        policy_json=row["policy_json"],
        connections=row["connections"],
        last_seen=row["last_seen"],
        hello_at=row["hello_at"],
    )
