"""The task store's table of nodes: what each node said in its hello, and its streams."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from coordinator._sqlite import Database, UnknownNode, now_or_clock, to_json
from coordinator.records import NodeRecord, node_from_row

__all__ = ["NodeTable"]


class NodeTable(Database):
    """The node half of the task store; TaskStore adds the tasks."""

    def record_hello(
        self,
        node_id: str,
        catalog: Sequence[Mapping[str, Any]],
        library_digest: str,
        software_version: str,
        policy_json: str,
        now: int,
    ) -> None:
        """Stores what a node said in its hello, replacing what it said before.

        Raises TypeError if the catalog cannot be written as JSON.
        """
        with self._write() as db:
            db.execute(
                "INSERT INTO nodes (node_id, catalog, library_digest, software_version, "
                "policy_json, last_seen, hello_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (node_id) DO UPDATE SET catalog = excluded.catalog, "
                "library_digest = excluded.library_digest, software_version = "
                "excluded.software_version, policy_json = excluded.policy_json, "
                "last_seen = excluded.last_seen, hello_at = excluded.hello_at",
                (node_id, to_json([dict(entry) for entry in catalog]), library_digest,
                 software_version, policy_json, int(now), int(now)),
            )

    def mark_seen(self, node_id: str, now: int) -> None:
        """Records that the node was heard from at ``now``; raises UnknownNode."""
        with self._write(notify=False) as db:
            self._update_node(db, node_id, "last_seen = max(last_seen, ?)", (int(now),))

    def set_connected(self, node_id: str, connected: bool, *, now: int | None = None) -> None:
        """Counts a delivery stream of the node opening (True) or closing (False).

        The node shows as connected while at least one of its streams is open. Raises
        UnknownNode for a node that never said hello.
        """
        change = "+ 1" if connected else "- 1"
        with self._write() as db:
            self._update_node(db, node_id, f"connections = max(0, connections {change}), "
                              "last_seen = max(last_seen, ?)", (now_or_clock(now),))

    def disconnect_all(self) -> None:
        """Marks every node disconnected; call it when the coordinator starts."""
        with self._write() as db:
            db.execute("UPDATE nodes SET connections = 0")

    @staticmethod
    def _update_node(db: sqlite3.Connection, node_id: str, assignments: str,
                     values: tuple) -> None:
        cursor = db.execute(f"UPDATE nodes SET {assignments} WHERE node_id = ?",
                            (*values, node_id))
        if cursor.rowcount == 0:
            raise UnknownNode(f"node {node_id} has not said hello to this coordinator; it "
                              "must call Hello before anything else")

    def node(self, node_id: str) -> NodeRecord | None:
        """The node's record, or None if it never said hello."""
        with self._read() as db:
            row = db.execute("SELECT * FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
        return None if row is None else node_from_row(row)

    def nodes(self) -> list[NodeRecord]:
        """Every node that said hello, by id."""
        with self._read() as db:
            rows = db.execute("SELECT * FROM nodes ORDER BY node_id").fetchall()
        return [node_from_row(r) for r in rows]
