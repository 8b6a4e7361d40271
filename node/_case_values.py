"""The values of local cases: the `Case` record, `CaseError`, and the helpers that turn a
resolve output into case lines, SQLite rows into cases and auditors' amounts into fen.

Amounts are kept as integer fen (hundredths of a yuan) and handed out as Decimal. The
helpers keep their leading underscore: they serve `node.cases` only.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from node.errors import NodeError

#: The columns a resolve output starts with, in this order; the rest are detail columns.
LEAD_COLUMNS = ("token", "subject_id", "subject_name", "amount")
OUTCOMES = ("confirmed", "partly", "excluded")
REASONS = ("data_error", "policy_allows", "registry_lag", "already_recovered", "other")

_CENT = Decimal("0.01")
#: The columns of `Case`, in its field order, as `node.cases` selects them.
_CASE_COLUMNS = ("c.case_id, c.task_id, t.analysis_id, t.title, c.token, c.subject_id, "
                 "c.subject_name, c.amount_fen, c.line_count, t.opened_at, c.status, c.outcome, "
                 "c.reason, c.confirmed_fen, c.recovered_fen, c.note, c.resolved_by, "
                 "c.resolved_at")


class CaseError(NodeError):
    """A case operation the operator can fix: unknown case, bad outcome, reason or amount."""


@dataclass(frozen=True)
class Case:
    """One flagged person or household of a task, with its outcome once resolved.

    ``lines`` (one dict per line: subject_id, subject_name, amount, then the detail
    columns, all as text) and ``history`` (every resolution, oldest first) are filled by
    `CaseStore.case`; `CaseStore.cases` leaves them empty and gives ``line_count``.
    """

    case_id: str
    task_id: str
    analysis_id: str
    title: str
    token: str
    subject_id: str
    subject_name: str | None
    amount_at_stake: Decimal
    line_count: int
    opened_at: str
    status: str
    outcome: str | None = None
    reason: str | None = None
    confirmed_amount: Decimal | None = None
    recovered_amount: Decimal | None = None
    note: str = ""
    resolved_by: str | None = None
    resolved_at: str | None = None
    lines: list[dict[str, str | None]] = field(default_factory=list)
    history: list[dict[str, str | None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Returns the case as JSON-ready values (amounts as decimal strings)."""
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(self).items()}


def _timestamp(now: dt.datetime | None) -> str:
    moment = now or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(UTC))")
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen).scaleb(-2)


def _text(value: Any) -> str | None:
    """A detail value as text: dates in ISO form, decimals exactly, bytes in hex."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _group_lines(lines: pa.Table) -> list[tuple[str, list[dict[str, Any]]]]:
    """Groups a resolve output by token, cases ordered by (subject ID, token) and lines
    in output order. Raises CaseError when the output's shape or a value is wrong."""
    if not isinstance(lines, pa.Table) or tuple(lines.column_names[:4]) != LEAD_COLUMNS:
        got = ", ".join(lines.column_names[:4]) if isinstance(lines, pa.Table) else lines
        raise CaseError(f"a resolve output must start with the columns {', '.join(LEAD_COLUMNS)}"
                        f" (got {got}); fix the model's resolve SQL")
    groups: dict[str, list[dict[str, Any]]] = {}
    for n, row in enumerate(lines.to_pylist(), start=1):
        token, subject_id, amount = row["token"], row["subject_id"], row["amount"]
        if not token or not subject_id or amount is None:
            missing = "token" if not token else "subject_id" if not subject_id else "amount"
            raise CaseError(f"line {n} of the resolve output has no {missing}; fix the "
                            "model's resolve SQL so every line has a token, an ID and an "
                            "amount")
        try:
            amount = Decimal(str(amount)).quantize(_CENT, ROUND_HALF_EVEN)
        except InvalidOperation:
            raise CaseError(f"line {n} of the resolve output has the amount {amount!r}, "
                            "which is not a number of yuan; fix the model's resolve SQL") from None
        detail = {k: _text(v) for k, v in row.items() if k not in LEAD_COLUMNS}
        groups.setdefault(str(token), []).append({
            "subject_id": str(subject_id), "subject_name": _text(row["subject_name"]),
            "amount_fen": _fen(amount),
            "detail": json.dumps(detail, ensure_ascii=False)})
    return sorted(groups.items(), key=lambda item: (item[1][0]["subject_id"], item[0]))


def _fen(amount: Decimal) -> int:
    return int(amount.quantize(_CENT) * 100)


def _free_prefix(db: sqlite3.Connection, task_id: str) -> str:
    """The shortest prefix of the task id (8 characters or more) no other task uses."""
    for length in range(min(8, len(task_id)), len(task_id) + 1):
        prefix = task_id[:length]
        if db.execute("SELECT 1 FROM tasks WHERE prefix = ?", (prefix,)).fetchone() is None:
            return prefix
    raise CaseError(f"task id {task_id} clashes with another task's case ids")  # unreachable


def _case(row: tuple, lines=(), history=()) -> Case:
    values = list(row)
    for i in (7, 13, 14):  # amount, confirmed and recovered, in fen
        values[i] = _yuan(values[i])
    return Case(*values, lines=list(lines), history=list(history))


def _read_case(db: sqlite3.Connection, case_id: str) -> Case:
    row = db.execute(f"SELECT {_CASE_COLUMNS} FROM cases c JOIN tasks t USING (task_id) "
                     "WHERE c.case_id = ?", (case_id,)).fetchone()
    if row is None:
        raise CaseError(f"there is no case {case_id} at this node; list the cases with "
                        "`fedaudit node cases list`")
    lines = [{"subject_id": sid, "subject_name": name, "amount": str(_yuan(fen)),
              **json.loads(detail)}
             for sid, name, fen, detail in db.execute(
                 "SELECT subject_id, subject_name, amount_fen, detail FROM case_lines "
                 "WHERE case_id = ? ORDER BY line_no", (case_id,))]
    history = [{"outcome": outcome, "reason": reason, "confirmed_amount": str(_yuan(conf)),
                "recovered_amount": str(_yuan(rec)), "note": note, "resolved_by": by,
                "resolved_at": at}
               for outcome, reason, conf, rec, note, by, at in db.execute(
                   "SELECT outcome, reason, confirmed_fen, recovered_fen, note, resolved_by, "
                   "resolved_at FROM resolutions WHERE case_id = ? ORDER BY seq", (case_id,))]
    return _case(row, lines, history)


def _parse_amount(value: Decimal | str | int, what: str) -> int:
    """An amount given by an auditor, in fen; raises CaseError unless it is a
    non-negative number of yuan with at most two decimals."""
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise CaseError(f"the {what} amount {value!r} is not a number; give yuan such as "
                        "1234.50")
    if amount < 0:
        raise CaseError(f"the {what} amount may not be negative (got {value})")
    if amount != amount.quantize(_CENT):
        raise CaseError(f"the {what} amount {value} has more than two decimals; give yuan "
                        "and fen such as 1234.50")
    return _fen(amount)


def _amounts(case: Case, outcome: str, reason: str | None, confirmed, recovered,
             note: str) -> tuple[int, int]:
    """Checks a resolution against the rules and returns (confirmed, recovered) in fen;
    raises CaseError naming the rule that is broken."""
    if outcome not in OUTCOMES:
        raise CaseError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
    if reason is not None and reason not in REASONS:
        raise CaseError(f"unknown reason code {reason!r}; use one of {', '.join(REASONS)}")
    if outcome == "excluded" and reason is None:
        raise CaseError(f"an excluded case needs a reason code (--reason): one of "
                        f"{', '.join(REASONS)}")
    if outcome == "confirmed" and reason is not None:
        raise CaseError("a confirmed case takes no reason code; use --outcome partly or "
                        "excluded if part or all of it does not hold")
    if reason == "other" and not (note or "").strip():
        raise CaseError("reason 'other' needs a note saying why (--note TEXT)")
    confirmed_fen = None if confirmed is None else _parse_amount(confirmed, "confirmed")
    recovered_fen = 0 if recovered is None else _parse_amount(recovered, "recovered")
    if outcome == "excluded":
        if confirmed_fen or recovered_fen:
            raise CaseError("an excluded case has no confirmed or recovered amount; drop "
                            "--confirmed and --recovered, or use --outcome partly")
        confirmed_fen = 0
    elif outcome == "partly" and confirmed_fen is None:
        raise CaseError("a partly confirmed case needs the confirmed amount (--confirmed "
                        "AMOUNT)")
    elif confirmed_fen is None:
        confirmed_fen = _fen(case.amount_at_stake)
    if recovered_fen > confirmed_fen:
        raise CaseError(f"the recovered amount ({_yuan(recovered_fen)}) may not exceed the "
                        f"confirmed amount ({_yuan(confirmed_fen)})")
    return confirmed_fen, recovered_fen
