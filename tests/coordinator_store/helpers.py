"""Helpers of the task store tests: a fixed clock and tasks and reports built from it."""

from __future__ import annotations

from coordinator.store import TaskStore

#: A fixed clock: tasks are submitted at T0 with a deadline an hour later.
T0 = 1_700_000_000
DEADLINE = T0 + 3600


def add_task(store: TaskStore, task_id: str, targets: list[str], *,
             deadline: int = DEADLINE, submitted_at: int = T0) -> None:
    """Adds a task for fund.benefit_summary whose signed bytes name the task id."""
    store.add_task(
        task_id=task_id, analysis_id="fund.benefit_summary", analysis_version="1.0.0",
        analysis_digest="ab" * 32, output_kind="aggregate", submitted_by="hq-lead",
        signed_task=f"signed:{task_id}".encode(), targets=targets, deadline=deadline,
        submitted_at=submitted_at,
    )


def report_done(store: TaskStore, task_id: str, node_id: str, rows: int = 3) -> bool:
    """Reports `done` for the node with a made-up partial path and receipt."""
    return store.record_report(
        task_id, node_id, "done", rows=rows, partial_path=f"/results/{task_id}/{node_id}",
        receipt=b'{"task_id": "%s"}' % task_id.encode(), receipt_signature=b"\x01" * 64,
        snapshots=[f"{node_id}-snap-1"], disclosure={"suppressed": 1, "min_contributors": 10},
        now=T0 + 60,
    )
