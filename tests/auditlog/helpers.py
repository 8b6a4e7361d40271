"""Helpers shared by the audit-log tests: building a log and rewriting its lines."""

from __future__ import annotations

from pathlib import Path

from node.audit_log import AuditLog


def write_log(path: Path, count: int) -> AuditLog:
    """Appends ``count`` entries with distinct field values and returns the log."""
    audit = AuditLog(path)
    for n in range(1, count + 1):
        audit.append("task.received", task_id=f"t-{n}", n=n)
    return audit


def read_lines(path: Path) -> list[bytes]:
    """Returns the log's lines, each with its newline."""
    return path.read_bytes().splitlines(keepends=True)
