"""`fedaudit results verification`: HQ's view of how the nodes' verification of leads goes.

The coordinator builds the summary (`coordinator.verification.verification_summary`);
this module fetches it through `PeopleClient.verification` and prints it as a table per
node with the national line, or as JSON. `summary_lines` is the pure formatting.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any

import click

from coordinator.findings import NodePlace
from coordinator.people_cli import COORDINATOR_OPTION, KIT_OPTION, results
from coordinator.verification import (
    REASON_TEXT,
    STATUS_TEXT,
    amount_text,
    node_label,
    percent,
)

__all__ = ["fetch_verification", "summary_lines", "verification_command"]

#: The table's two header rows, Chinese over English.
_HEADER = (
    ("节点", "状态", "线索", "案件", "未结", "确认", "部分确认", "排除", "涉及金额 万元 (元)",
     "确认金额 万元 (元)", "追回金额 万元 (元)", "精度"),
    ("Node", "Status", "Leads", "Cases", "Open", "Confirmed", "Partly", "Excluded",
     "At stake", "Confirmed", "Recovered", "Precision"),
)
_LEFT = 2  # the first columns are text, aligned left; the others are numbers


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _row(label: str, entry: Mapping[str, Any]) -> tuple[str, ...]:
    status = " ".join(STATUS_TEXT.get(entry["status"], (entry["status"], "")))
    return (label, status.strip(), _count(entry["leads"]), _count(entry["cases"]),
            _count(entry["open"]), _count(entry["confirmed"]), _count(entry["partly"]),
            _count(entry["excluded"]), amount_text(entry["amount_at_stake"]),
            amount_text(entry["confirmed_amount"]), amount_text(entry["recovered_amount"]),
            percent(entry["precision"]))


def _width(text: str) -> int:
    """Columns the text takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for i, (cell, width) in enumerate(zip(row, widths, strict=True)):
            pad = " " * (width - _width(cell))
            cells.append(cell + pad if i < _LEFT else pad + cell)
        lines.append("  ".join(cells).rstrip())
    return lines


def _reasons(entry: Mapping[str, Any]) -> str:
    return "、".join(f"{REASON_TEXT[r][0]} {REASON_TEXT[r][1]} {n}"
                    for r, n in (entry.get("excluded_by_reason") or {}).items() if n)


def summary_lines(summary: Mapping[str, Any],
                  places: Mapping[str, NodePlace] | None = None) -> list[str]:
    """The summary as printed: heading, one row per node, the national row, then notes.

    ``summary`` is what `verification_summary` returns; ``places`` (node id ->
    NodePlace, from `findings.places_from_roster`) names the provinces.
    """
    places = places or {}
    model = summary["model"]
    out = [f"任务 task {summary['task_id']}：{model['id']}@{model['version']} "
           f"{model.get('title_zh', '')}（{model.get('title_en', '')}），核实进度 "
           "verification progress"]
    nodes = summary.get("nodes") or []
    if summary.get("task_state") == "running" and not nodes:
        out.append("任务仍在运行，线索尚未返回各节点 / the task is still running: the leads go "
                   "back to the nodes once every target answered")
        return out
    if not nodes:
        out.append("没有节点收到线索 / no node received leads to verify")
        return out
    national = summary["national"]
    rows = [*_HEADER, *(_row(node_label(e["node_id"], places), e) for e in nodes),
            _row("全国 National", national)]
    out += _table(rows)
    for entry in (*nodes, national):
        if reasons := _reasons(entry):
            label = "全国 National" if entry is national else node_label(entry["node_id"],
                                                                         places)
            out.append(f"排除原因 excluded by reason, {label}: {reasons}")
    missing = [node_label(e["node_id"], places) for e in nodes if not e["reported"]]
    if missing:
        out.append(f"未报告 not reported: {', '.join(missing)}")
    out.append("精度 = (确认 + 部分确认) / 已结案件 · precision = (confirmed + partly) / "
               "resolved cases; the national line adds the nodes that reported "
               f"({national['nodes_reported']} of {national['nodes']}).")
    return out


def fetch_verification(client, provenance: Mapping[str, Any]) -> dict[str, Any] | None:
    """The verification summary of a result, or None when its task links no records.

    ``client`` is an open PeopleClient and ``provenance`` the result's provenance (as
    `PeopleClient.fetch_result` returns it): only a linkage task's provenance has a
    ``linkage`` entry. Raises CoordinatorError when the coordinator refuses.
    """
    if not isinstance(provenance.get("linkage"), Mapping):
        return None
    return client.verification(str(provenance["task_id"]))


@click.command("verification")
@click.argument("task_id")
@KIT_OPTION
@COORDINATOR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def verification_command(task_id, kit_path, address, as_json) -> None:
    """Show how the nodes' verification of a linkage task's leads goes.

    One row per province (node): leads returned to it, cases opened, cases still open,
    confirmed, partly confirmed and excluded, the amounts at stake, confirmed and
    recovered (万元, and yuan), and the model's precision there; then the national line.
    Case detail never leaves the nodes: this shows their aggregates only.
    """
    from certs import load_kit
    from coordinator.client import PeopleClient
    from coordinator.findings import places_from_roster

    kit = load_kit(kit_path)
    with PeopleClient(kit, address) as client:
        summary = client.verification(task_id)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    for line in summary_lines(summary, places_from_roster(kit.roster())):
        click.echo(line)


# `coordinator.people_cli` imports this module at its end, so `results verification`
# exists wherever the `results` group does.
results.add_command(verification_command)
