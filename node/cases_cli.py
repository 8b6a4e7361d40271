"""`fedaudit node cases …`: list, show, resolve and export the node's local cases.

Cases hold the names and ID numbers of the people a linkage task flagged; they never
leave the node. Only outcome aggregates reach the coordinator, sent by the running node.
"""

from __future__ import annotations

import getpass
import json
import unicodedata
from decimal import Decimal
from pathlib import Path

import click
import pyarrow as pa

from node.cases import OUTCOMES, REASONS, STATUSES, Case, CaseError, CaseStore
from node.home import NodeHome

__all__ = ["cases"]

HOME_OPTION = click.option(
    "--home", "home", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="The node's home directory (made by `fedaudit node init`).")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
_MONEY = pa.decimal128(18, 2)
#: The columns every line has, ahead of its detail columns in the lines sheet.
_LINE_LEAD = ("case_id", "subject_id", "subject_name", "amount")


def _open(home: Path) -> tuple[NodeHome, CaseStore]:
    """Returns the node home and its case store; raises NodeError if home is not one."""
    node_home = NodeHome.open(home)
    return node_home, CaseStore.at_home(node_home)


def _task_id(store: CaseStore, given: str | None) -> str | None:
    """The task id that ``given`` (a task id or its start) names; raises CaseError when it
    names none or several."""
    if given is None:
        return None
    found = [t.task_id for t in store.tasks() if t.task_id.startswith(given)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise CaseError(f"this node has no cases for task {given}; run `fedaudit node cases "
                        "list` to see the tasks with cases")
    raise CaseError(f"{given} is the start of {len(found)} task ids; give more of the task id")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(header: list[str], rows: list[list[str]], right: tuple[int, ...] = ()) -> None:
    """Prints aligned columns (wide characters count twice); ``right`` aligns numbers."""
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [(" " * (w - _width(v)) + v) if i in right else v + " " * (w - _width(v))
                 for i, (v, w) in enumerate(zip(row, widths, strict=True))]
        click.echo("  ".join(cells).rstrip())


def _money(amount: Decimal | None) -> str:
    return "-" if amount is None else f"{amount:,.2f}"


def _state(case: Case) -> str:
    if case.status == "open":
        return "open"
    return f"{case.outcome} ({case.reason})" if case.reason else case.outcome


@click.group("cases")
def cases() -> None:
    """Work the cases that linkage tasks opened at this node (local only).

    A case is one flagged person or household with the lines (payments, periods) behind
    it. Auditors resolve each case; the running node reports only the outcome counts and
    amounts to the coordinator, never who.
    """


@cases.command("list")
@HOME_OPTION
@click.option("--task", "task", default=None, metavar="TASK_ID",
              help="Only the cases of this task (its id, or the start of it).")
@click.option("--status", type=click.Choice(STATUSES), default=None,
              help="Only open or only resolved cases.")
@JSON_OPTION
def list_command(home: Path, task: str | None, status: str | None, as_json: bool) -> None:
    """List cases: id, task, model, subject, amount at stake and status."""
    _, store = _open(home)
    with store:
        found = store.cases(task_id=_task_id(store, task), status=status)
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("no cases" + (" match" if task or status else " at this node yet"))
        return
    _table(["CASE", "TASK", "MODEL", "SUBJECT ID", "NAME", "AMOUNT", "STATUS"],
           [[c.case_id, c.task_id[:8], c.analysis_id, c.subject_id, c.subject_name or "-",
             _money(c.amount_at_stake), _state(c)] for c in found], right=(5,))
    still_open = sum(c.status == "open" for c in found)
    click.echo(f"{len(found)} cases, {still_open} open; "
               "see one with `fedaudit node cases show CASE_ID`")


@cases.command("show")
@click.argument("case_id")
@HOME_OPTION
@JSON_OPTION
def show_command(case_id: str, home: Path, as_json: bool) -> None:
    """Show one case with all its lines and every resolution it had."""
    _, store = _open(home)
    with store:
        case = store.case(case_id)
    if as_json:
        click.echo(json.dumps(case.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"case       {case.case_id}  ({_state(case)})")
    click.echo(f"task       {case.task_id}  opened {case.opened_at}")
    click.echo(f"model      {case.analysis_id}  {case.title}")
    click.echo(f"subject    {case.subject_id}  {case.subject_name or ''}".rstrip())
    lines = f"{case.line_count} line" + ("s" if case.line_count != 1 else "")
    click.echo(f"at stake   {_money(case.amount_at_stake)} in {lines}")
    if case.status == "resolved":
        click.echo(f"confirmed  {_money(case.confirmed_amount)}   recovered "
                   f"{_money(case.recovered_amount)}")
        click.echo(f"resolved   by {case.resolved_by} at {case.resolved_at}")
        if case.note:
            click.echo(f"note       {case.note}")
    for earlier in case.history[:-1]:
        click.echo(f"corrected  was {earlier['outcome']}"
                   + (f" ({earlier['reason']})" if earlier["reason"] else "")
                   + f", confirmed {earlier['confirmed_amount']}, by {earlier['resolved_by']}"
                     f" at {earlier['resolved_at']}")
    click.echo("")
    header = list(case.lines[0]) if case.lines else ["amount"]
    _table(header, [["-" if line.get(k) is None else str(line.get(k)) for k in header]
                    for line in case.lines], right=(header.index("amount"),))


@cases.command("resolve")
@click.argument("case_id")
@HOME_OPTION
@click.option("--outcome", required=True, type=click.Choice(OUTCOMES),
              help="confirmed (the lead holds), partly (part of the amount holds) or "
                   "excluded (it does not hold; needs --reason).")
@click.option("--reason", type=click.Choice(REASONS), default=None,
              help="Why a case is excluded (or partly): a data error, a policy that "
                   "allows it, registry lag, already recovered, or other (needs --note).")
@click.option("--confirmed", "confirmed", default=None, metavar="AMOUNT",
              help="The confirmed amount in yuan (default for confirmed: the amount at "
                   "stake; required for partly).")
@click.option("--recovered", "recovered", default=None, metavar="AMOUNT",
              help="The amount already recovered in yuan (default 0; at most the confirmed "
                   "amount).")
@click.option("--note", default="", help="What the auditor found (stays at the node).")
@click.option("--by", "resolved_by", default=None, metavar="NAME",
              help="Who resolved the case (default: the operating-system user).")
def resolve_command(case_id: str, home: Path, outcome: str, reason: str | None,
                    confirmed: str | None, recovered: str | None, note: str,
                    resolved_by: str | None) -> None:
    """Record the outcome of a case; resolving it again corrects it.

    The decision is written to the node's audit log (ids, outcome and amounts, never
    who the case is about); the running node then reports the task's new outcome counts
    to the coordinator.
    """
    node_home, store = _open(home)
    with store:
        case = store.resolve(case_id, outcome, reason=reason, confirmed_amount=confirmed,
                             recovered_amount=recovered, note=note,
                             resolved_by=resolved_by or _os_user(),
                             audit_log=node_home.audit_log())
    verb = "corrected" if len(case.history) > 1 else "resolved"
    click.echo(f"{verb} {case.case_id}: {_state(case)}, confirmed "
               f"{_money(case.confirmed_amount)}, recovered {_money(case.recovered_amount)} "
               f"of {_money(case.amount_at_stake)}; the running node reports the outcome "
               "counts to the coordinator")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise CaseError("cannot tell who you are from the operating system; "
                        "give --by NAME") from None


@cases.command("export")
@HOME_OPTION
@click.option("--format", "fmt", type=click.Choice(["xlsx"]), default="xlsx",
              show_default=True, help="The file format.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (replaced atomically if it exists).")
@click.option("--task", "task", default=None, metavar="TASK_ID",
              help="Only the cases of this task (its id, or the start of it).")
def export_command(home: Path, fmt: str, out: Path, task: str | None) -> None:
    """Export cases for field teams: one sheet of cases, one of their lines.

    The file holds names and ID numbers: keep it where the node's data is kept. The
    export is recorded in the node's audit log.
    """
    from node.xlsx import write_xlsx

    node_home, store = _open(home)
    with store:
        task_id = _task_id(store, task)
        found = [store.case(c.case_id) for c in store.cases(task_id=task_id)]
    if not found:
        raise CaseError("there are no cases to export" + (f" for task {task}" if task else ""))
    case_sheet, line_sheet = _case_table(found), _line_table(found)
    node_home.audit_log().append("cases.exported", task_id=task_id, format=fmt,
                                 cases=case_sheet.num_rows, lines=line_sheet.num_rows,
                                 out=str(out.resolve()))
    write_xlsx({"cases": case_sheet, "lines": line_sheet}, out)
    click.echo(f"wrote {case_sheet.num_rows} cases and {line_sheet.num_rows} lines to {out}; "
               "it holds names and ID numbers, so keep it on the node's premises")


def _case_table(found: list[Case]) -> pa.Table:
    """The cases sheet: one row per case, amounts as decimals (no tokens)."""
    text = ["case_id", "task_id", "analysis_id", "title", "subject_id", "subject_name"]
    after = ["opened_at", "status", "outcome", "reason"]
    columns = {name: pa.array([getattr(c, name) for c in found], pa.string()) for name in text}
    columns["amount_at_stake"] = pa.array([c.amount_at_stake for c in found], _MONEY)
    columns["lines"] = pa.array([c.line_count for c in found], pa.int32())
    columns.update({name: pa.array([getattr(c, name) for c in found], pa.string())
                    for name in after})
    for name in ("confirmed_amount", "recovered_amount"):
        columns[name] = pa.array([getattr(c, name) for c in found], _MONEY)
    for name in ("note", "resolved_by", "resolved_at"):
        columns[name] = pa.array([getattr(c, name) for c in found], pa.string())
    return pa.table(columns)


def _line_table(found: list[Case]) -> pa.Table:
    """The lines sheet: case id, subject, amount, then every detail column (as text) that
    any case has, in first-seen order."""
    names: dict[str, None] = {}
    rows = []
    for case in found:
        for line in case.lines:
            rows.append({**line, "case_id": case.case_id})
            names.update(dict.fromkeys(k for k in line if k not in _LINE_LEAD))
    columns = {name: pa.array([r.get(name) for r in rows], pa.string())
               for name in _LINE_LEAD[:3]}
    columns["amount"] = pa.array([Decimal(r["amount"]) for r in rows], _MONEY)
    columns.update({name: pa.array([r.get(name) for r in rows], pa.string())
                    for name in names})
    return pa.table(columns)
