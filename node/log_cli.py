"""The `fedaudit node log` commands: show the node's audit log and verify its hash chain."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from node.audit_log import AuditLog, AuditLogBroken

__all__ = ["format_entry", "log"]

#: The keys every entry has; `show` prints the others after the event as key=value.
_FIXED_KEYS = ("seq", "ts", "event", "prev", "hash")

#: A string value matching this prints bare; anything else prints as a JSON string.
_BARE = re.compile(r"[^\s=\"']+")

_HOME_HELP = "The node's home directory (the one holding node.toml)."


def _log_for_home(home: Path) -> AuditLog:
    """Returns the audit log of the node home ``home``; raises NodeError if it is not one."""
    from node.home import NodeHome

    return NodeHome.open(home).audit_log()


def _fail(message: str) -> None:
    """Prints ``message`` as a one-line error on stderr and exits with code 1."""
    click.echo(f"error: {message}", err=True)
    raise click.exceptions.Exit(1)


def _format_value(value: Any) -> str:
    if isinstance(value, str) and _BARE.fullmatch(value):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def format_entry(entry: dict[str, Any]) -> str:
    """Formats one entry as a human line: seq, time, event, then its fields as key=value."""
    fields = " ".join(
        f"{key}={_format_value(value)}" for key, value in entry.items() if key not in _FIXED_KEYS
    )
    line = f"{entry['seq']:>4} {entry['ts']} {entry['event']}"
    return f"{line} {fields}" if fields else line


@click.group("log")
def log() -> None:
    """Read and verify the node's hash-chained audit log (HOME/audit.log)."""


@log.command("show")
@click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_HOME_HELP,
)
@click.option(
    "--tail",
    "tail_n",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Show only the last N entries (default: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print each entry as one JSON line.")
def show(home: Path, tail_n: int | None, as_json: bool) -> None:
    """Print the audit log's entries, oldest first.

    Showing does not check the hash chain; run `verify` for that.
    """
    audit = _log_for_home(home)
    shown = 0
    try:
        entries = audit.entries() if tail_n is None else audit.tail(tail_n)
        for entry in entries:
            if as_json:
                click.echo(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
            else:
                click.echo(format_entry(entry))
            shown += 1
    except AuditLogBroken as exc:
        _fail(
            f"audit log broken at line {exc.line_no}: {exc.reason}; "
            f"run `fedaudit node log verify --home {home}`"
        )
    if shown == 0 and not as_json:
        click.echo(f"the audit log {audit.path} has no entries yet", err=True)


@log.command("verify")
@click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=_HOME_HELP,
)
def verify(home: Path) -> None:
    """Check the audit log's hash chain end to end.

    Exits 0 if every line is intact, or 1 naming the first broken line.
    """
    audit = _log_for_home(home)
    try:
        head = audit.verified_head()
    except AuditLogBroken as exc:
        _fail(f"audit log broken at line {exc.line_no}: {exc.reason}")
        return
    if head.hash is None:
        click.echo("audit log intact: 0 lines (empty)")
    else:
        noun = "line" if head.lines == 1 else "lines"
        click.echo(f"audit log intact: {head.lines} {noun} (head {head.hash[:8]}…)")
