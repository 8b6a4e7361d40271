"""Local verification cases: the leads a linkage task returned, re-identified and resolved.

A node opens one case per returned token that its model's resolve SQL found lines for
(DESIGN §3 step 9). Cases hold full local detail (who, which payments, the amount at
stake) and never leave the node; only `outcome_rows`, aggregates per outcome and reason,
go to the coordinator. The store is one SQLite file, HOME/cases.sqlite, in WAL mode; every
change is one transaction, so a crash never leaves a task half opened or a case half
resolved. Each task carries a version, bumped on every open and resolve, so the daemon
sends a task's outcome rows again whenever they changed (`unsent`, `mark_sent`).

Amounts are kept as integer fen (hundredths of a yuan) and handed out as Decimal.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from node._case_values import (
    _CASE_COLUMNS,
    LEAD_COLUMNS,
    OUTCOMES,
    REASONS,
    Case,
    CaseError,
    _amounts,
    _case,
    _free_prefix,
    _group_lines,
    _read_case,
    _timestamp,
    _yuan,
)
from node.durable import set_up_sqlite

__all__ = ["CASES_FILE", "LEAD_COLUMNS", "OUTCOMES", "REASONS", "STATUSES", "Case",
           "CaseError", "CaseStore", "TaskCases"]

#: The case store's file name inside a node home.
CASES_FILE = "cases.sqlite"
STATUSES = ("open", "resolved")

#: How long (seconds) to wait for another process holding the write lock; every write
#: is small, so a long wait means something is stuck rather than busy.
_BUSY_TIMEOUT = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id      TEXT PRIMARY KEY,
    prefix       TEXT NOT NULL UNIQUE,
    analysis_id  TEXT NOT NULL,
    title        TEXT NOT NULL,
    opened_at    TEXT NOT NULL,
    leads        INTEGER,
    cases        INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    sent_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cases (
    case_id         TEXT PRIMARY KEY,
    task_id         TEXT NOT NULL REFERENCES tasks (task_id),
    seq             INTEGER NOT NULL,
    token           TEXT NOT NULL,
    subject_id      TEXT NOT NULL,
    subject_name    TEXT,
    amount_fen      INTEGER NOT NULL,
    line_count      INTEGER NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open',
    outcome         TEXT,
    reason          TEXT,
    confirmed_fen   INTEGER,
    recovered_fen   INTEGER,
    note            TEXT NOT NULL DEFAULT '',
    resolved_by     TEXT,
    resolved_at     TEXT,
    UNIQUE (task_id, token)
);
CREATE INDEX IF NOT EXISTS cases_by_task ON cases (task_id, seq);
CREATE TABLE IF NOT EXISTS case_lines (
    case_id      TEXT NOT NULL REFERENCES cases (case_id),
    line_no      INTEGER NOT NULL,
    subject_id   TEXT,
    subject_name TEXT,
    amount_fen   INTEGER NOT NULL,
    detail       TEXT NOT NULL,
    PRIMARY KEY (case_id, line_no)
);
CREATE TABLE IF NOT EXISTS resolutions (
    case_id       TEXT NOT NULL REFERENCES cases (case_id),
    seq           INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    reason        TEXT,
    confirmed_fen INTEGER NOT NULL,
    recovered_fen INTEGER NOT NULL,
    note          TEXT NOT NULL,
    resolved_by   TEXT NOT NULL,
    resolved_at   TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);
"""


@dataclass(frozen=True)
class TaskCases:
    """What the store knows of one task: its model, leads, cases and report version."""

    task_id: str
    analysis_id: str
    title: str
    opened_at: str
    leads: int | None
    cases: int
    version: int
    sent_version: int


class CaseStore:
    """The node's cases in an SQLite file (WAL mode), shared by the daemon and the CLI."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Opens (creating if needed) the store at ``path``.

        Raises sqlite3.DatabaseError if the file is not an SQLite database, or if another
        process keeps it locked for longer than 30 seconds.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: every change opens its own BEGIN IMMEDIATE ... COMMIT.
        self._db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT, isolation_level=None,
                                   check_same_thread=False)
        # Case data names persons: the file is readable by the node's own user only, and
        # the WAL files SQLite makes next to it take its mode. (chmod, never an open and
        # close of the file: closing any descriptor of it would drop this process's locks.)
        os.chmod(self.path, 0o600)
        self._lock = threading.Lock()
        try:
            # FULL syncs the WAL on every commit: a resolution must outlive a power cut.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._set_up()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def at_home(cls, home) -> CaseStore:
        """Opens the case store of a node home (`node.home.NodeHome`): HOME/cases.sqlite."""
        return cls(Path(home.path) / CASES_FILE)

    def _set_up(self) -> None:
        """Switches the file to WAL mode and creates the tables (node.durable)."""
        set_up_sqlite(self._db, _SCHEMA, _BUSY_TIMEOUT)

    def __repr__(self) -> str:
        return f"CaseStore({str(self.path)!r})"

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the database; the store cannot be used afterwards."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back on any exception."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # Opening.

    def open_cases(self, task_id: str, analysis_id: str, title: str, lines: pa.Table, *,
                   now: dt.datetime | None = None, leads: int | None = None,
                   audit_log=None) -> int:
        """Opens one case per distinct token of ``lines`` (a resolve output) and returns
        the number of cases of the task.

        Idempotent per task: when the task's cases were opened before, nothing changes
        and the earlier count is returned. ``leads`` (the number of returned tokens) is
        kept for the verification report. With ``audit_log`` (a `node.audit_log.AuditLog`)
        a ``cases.opened`` entry, without any subject's data, is written before the
        cases take effect. Raises CaseError when ``lines`` does not start with the
        columns token, subject_id, subject_name, amount or a token, ID or amount is
        missing, and ValueError for an empty task id.
        """
        if not isinstance(task_id, str) or not task_id:
            raise ValueError(f"a task id must be a non-empty string, not {task_id!r}")
        grouped = _group_lines(lines)
        opened_at = _timestamp(now)
        with self._transaction() as db:
            known = db.execute("SELECT cases FROM tasks WHERE task_id = ?",
                               (task_id,)).fetchone()
            if known is not None:
                return known[0]
            prefix = _free_prefix(db, task_id)
            db.execute("INSERT INTO tasks (task_id, prefix, analysis_id, title, opened_at, "
                       "leads, cases, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                       (task_id, prefix, analysis_id, title, opened_at, leads, len(grouped)))
            for seq, (token, rows) in enumerate(grouped, start=1):
                case_id = f"C-{prefix}-{seq:04d}"
                db.execute("INSERT INTO cases (case_id, task_id, seq, token, subject_id, "
                           "subject_name, amount_fen, line_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (case_id, task_id, seq, token, rows[0]["subject_id"],
                            rows[0]["subject_name"], sum(r["amount_fen"] for r in rows),
                            len(rows)))
                db.executemany("INSERT INTO case_lines VALUES (?, ?, ?, ?, ?, ?)",
                               [(case_id, n, r["subject_id"], r["subject_name"], r["amount_fen"],
                                 r["detail"]) for n, r in enumerate(rows, start=1)])
            if audit_log is not None:
                audit_log.append("cases.opened", task_id=task_id, analysis_id=analysis_id,
                                 leads=leads, cases=len(grouped), lines=lines.num_rows,
                                 amount_at_stake=str(_yuan(sum(
                                     r["amount_fen"] for _, rows in grouped for r in rows))))
            return len(grouped)

    # Reading.

    def tasks(self) -> list[TaskCases]:
        """Returns every task with cases at this node, oldest first."""
        with self._transaction(write=False) as db:
            rows = db.execute("SELECT task_id, analysis_id, title, opened_at, leads, cases, "
                              "version, sent_version FROM tasks "
                              "ORDER BY opened_at, task_id").fetchall()
        return [TaskCases(*row) for row in rows]

    def task(self, task_id: str) -> TaskCases:
        """Returns one task's summary; raises CaseError if the node has no cases for it."""
        for task in self.tasks():
            if task.task_id == task_id:
                return task
        raise CaseError(f"this node has no cases for task {task_id}; list the tasks with "
                        "cases with `fedaudit node cases list`")

    def cases(self, task_id: str | None = None, status: str | None = None) -> list[Case]:
        """Returns the cases (without lines), optionally of one task and one status, in
        the order they were opened. Raises CaseError for a status other than open or
        resolved."""
        if status is not None and status not in STATUSES:
            raise CaseError(f"unknown case status {status!r}; use one of {', '.join(STATUSES)}")
        sql = f"SELECT {_CASE_COLUMNS} FROM cases c JOIN tasks t USING (task_id) WHERE 1 = 1"
        args: list[str] = []
        if task_id is not None:
            sql, args = sql + " AND c.task_id = ?", [*args, task_id]
        if status is not None:
            sql, args = sql + " AND c.status = ?", [*args, status]
        with self._transaction(write=False) as db:
            rows = db.execute(sql + " ORDER BY t.opened_at, c.task_id, c.seq", args).fetchall()
        return [_case(row) for row in rows]

    def case(self, case_id: str) -> Case:
        """Returns one case with its lines and resolution history; raises CaseError if
        there is no such case."""
        with self._transaction(write=False) as db:
            return _read_case(db, case_id)

    # Resolving.

    def resolve(self, case_id: str, outcome: str, *, reason: str | None = None,
                confirmed_amount: Decimal | str | int | None = None,
                recovered_amount: Decimal | str | int | None = None, note: str = "",
                resolved_by: str, now: dt.datetime | None = None, audit_log=None) -> Case:
        """Records an auditor's outcome for a case and returns the updated case.

        ``confirmed`` defaults the confirmed amount to the amount at stake; ``partly``
        needs one; ``excluded`` needs a reason code and sets both amounts to 0 (``other``
        also needs a note). The recovered amount defaults to 0 and may not exceed the
        confirmed amount. Resolving a resolved case again is a correction: the new
        outcome replaces the old one and both stay in the history. With ``audit_log`` a
        ``case.resolved`` entry (ids, outcome, reason and amounts, never the subject's
        ID or name) is written before the outcome takes effect. Raises CaseError for an
        unknown case and for any rule above that is broken.
        """
        if not isinstance(resolved_by, str) or not resolved_by.strip():
            raise CaseError("say who resolved the case (--by NAME)")
        note = note or ""
        resolved_at = _timestamp(now)
        with self._transaction() as db:
            case = _read_case(db, case_id)
            confirmed, recovered = _amounts(case, outcome, reason, confirmed_amount,
                                            recovered_amount, note)
            seq = len(case.history) + 1
            db.execute("UPDATE cases SET status = 'resolved', outcome = ?, reason = ?, "
                       "confirmed_fen = ?, recovered_fen = ?, note = ?, resolved_by = ?, "
                       "resolved_at = ? WHERE case_id = ?",
                       (outcome, reason, confirmed, recovered, note, resolved_by.strip(),
                        resolved_at, case_id))
            db.execute("INSERT INTO resolutions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (case_id, seq, outcome, reason, confirmed, recovered, note,
                        resolved_by.strip(), resolved_at))
            db.execute("UPDATE tasks SET version = version + 1 WHERE task_id = ?",
                       (case.task_id,))
            if audit_log is not None:
                audit_log.append("case.resolved", case_id=case_id, task_id=case.task_id,
                                 outcome=outcome, reason=reason,
                                 amount_at_stake=str(case.amount_at_stake),
                                 confirmed_amount=str(_yuan(confirmed)),
                                 recovered_amount=str(_yuan(recovered)),
                                 resolved_by=resolved_by.strip(), correction=seq > 1)
            return _read_case(db, case_id)

    # Reporting.

    def outcome_rows(self, task_id: str) -> list[dict[str, Any]]:
        """Returns the task's outcome aggregates, one per (outcome, reason), open cases
        first: {"outcome", "reason", "cases", "amount_at_stake", "confirmed_amount",
        "recovered_amount"} with amounts as decimal strings. Raises CaseError if the node
        has no cases for the task."""
        self.task(task_id)
        with self._transaction(write=False) as db:
            rows = db.execute(
                "SELECT CASE status WHEN 'open' THEN 'open' ELSE outcome END AS outcome, "
                "reason, count(*), sum(amount_fen), coalesce(sum(confirmed_fen), 0), "
                "coalesce(sum(recovered_fen), 0) FROM cases WHERE task_id = ? "
                "GROUP BY 1, 2", (task_id,)).fetchall()
        order = ("open", *OUTCOMES)
        rows.sort(key=lambda r: (order.index(r[0]), r[1] or ""))
        return [{"outcome": outcome, "reason": reason, "cases": count,
                 "amount_at_stake": str(_yuan(stake)), "confirmed_amount": str(_yuan(conf)),
                 "recovered_amount": str(_yuan(rec))}
                for outcome, reason, count, stake, conf, rec in rows]

    def unsent(self) -> list[tuple[str, int]]:
        """Returns (task_id, version) of every task whose outcome rows changed since they
        were last sent, oldest task first."""
        with self._transaction(write=False) as db:
            return [tuple(row) for row in db.execute(
                "SELECT task_id, version FROM tasks WHERE version > sent_version "
                "ORDER BY opened_at, task_id")]

    def mark_sent(self, task_id: str, version: int) -> None:
        """Records that the outcome rows of ``version`` reached the coordinator; a later
        change keeps the task unsent. Raises CaseError for an unknown task or a version
        the task never had."""
        with self._transaction() as db:
            row = db.execute("SELECT version FROM tasks WHERE task_id = ?",
                             (task_id,)).fetchone()
            if row is None or not isinstance(version, int) or not 1 <= version <= row[0]:
                raise CaseError(f"task {task_id} has no cases version {version!r} to mark "
                                "as sent")
            db.execute("UPDATE tasks SET sent_version = max(sent_version, ?) "
                       "WHERE task_id = ?", (version, task_id))
