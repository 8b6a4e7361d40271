"""Renders a combined result as one self-contained HTML audit report with inline SVG charts.

The report is a pure function of what `fedaudit results show` reads (the provenance, the
table and the model that made it): it fetches nothing and references nothing outside the
file, so it opens in an air-gapped office. Every value from the result, the provenance or
the model is HTML-escaped. Per-province totals come from the result's province column
(a node id, a region code or a province code); a result without one, such as a national
sum, is charted by its first dimension instead, and the report says so.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from analyses.manifest import Model
from coordinator._report_html import (
    NOT_ANSWERED_STATES,
    _e,
    definition_list,
    html_table,
    page,
    provenance_sections,
    svg_bar_chart,
    verification_section,
)
from coordinator.errors import CoordinatorError
from coordinator.findings import Findings, NodePlace, region_name
from coordinator.verification import findings_of

__all__ = ["PROVINCE_COLUMNS", "Breakdown", "Group", "ReportError", "breakdown",
           "province_label", "render_report", "svg_bar_chart"]

#: Column names that place a row in a province, in order of preference; after them, any
#: column whose name ends in "admdvs" (a region code, e.g. pool_admdvs).
PROVINCE_COLUMNS = ("province", "province_code", "node", "node_id", "admdvs", "region",
                    "region_code")
#: Columns the combine step adds to an aggregate (see coordinator.combine).
MARK_COLUMNS = ("lower_bound", "suppressed_parts")
_CODE = re.compile(r"^\d{6}$")


class ReportError(CoordinatorError):
    """A report that cannot be made; the message says what to do instead."""


@dataclass(frozen=True)
class Group:
    """One bar of the charts: a province (or a value of the fallback dimension)."""

    key: str
    label: str
    count: int
    money: Decimal | None
    lower_bound: bool


@dataclass(frozen=True)
class Breakdown:
    """The result grouped for the charts and the findings table."""

    column: str | None
    per_province: bool
    count_column: str | None
    money_column: str | None
    groups: tuple[Group, ...]


def province_label(value: object, places: Mapping[str, NodePlace]) -> tuple[str, str]:
    """(group key, label) of a province column value: a node id, or a 6-digit region code.

    A province node listed in `places` (from `findings.places_from_roster`) is labelled
    with its province's name; a region code is grouped under its province (440103 ->
    440000). Anything else, such as a registry node, stands for itself.
    """
    text = "" if value is None else str(value)
    place = places.get(text)
    if place is not None:
        if place.level == "province" and place.region.endswith("0000"):
            return text, f"{region_name(place.region)[0]} ({text})"
        return text, text
    if _CODE.match(text):
        code = text[:2] + "0000"
        return code, f"{region_name(code)[0]} ({code})"
    return text, text or "(empty)"


def breakdown(table, model: Model, places: Mapping[str, NodePlace] | None = None
              ) -> Breakdown:
    """Sums the result's count and money measure per province (see `province_label`).

    The count is the model's `count` column for an aggregate and the number of rows for
    tokens or flags; the money measure is its first DECIMAL measure or attribute (yuan),
    or none. A group is a lower bound when a row is marked `lower_bound` or a summed
    cell was suppressed (empty). Without a province column an aggregate is grouped by
    its first dimension, and tokens or flags form one national group.
    """
    places = places or {}
    roles = {c.name: c for c in model.output.columns}
    names = table.column_names if table is not None else []
    column = next((n for n in (*PROVINCE_COLUMNS, *names) if n in names and (
        n in PROVINCE_COLUMNS or n.endswith("admdvs"))), None)
    per_province = column is not None
    if column is None and model.kind == "aggregate":
        column = next((c.name for c in model.output.by_role("dimension") if c.name in names),
                      None)
    count_column = None
    if model.kind == "aggregate":
        count_column = next((c.name for c in model.output.by_role("count") if c.name in names),
                            None)
    money_roles = ("measure",) if model.kind == "aggregate" else ("attribute",)
    money_column = next((n for n in names if n in roles and roles[n].role in money_roles
                         and roles[n].type.startswith("DECIMAL")), None)
    totals: dict[str, dict] = {}
    for row in _rows(table):
        if per_province:
            key, label = province_label(row[column], places)
        else:
            key = _value(row[column]) if column else "national / 全国"
            label = key or "(empty)"
        total = totals.setdefault(key, {"label": label, "count": 0, "money": None,
                                        "lower_bound": False})
        total["lower_bound"] |= bool(row.get("lower_bound"))
        count = 1 if count_column is None else row[count_column]
        if count is None:
            total["lower_bound"] = True
        else:
            total["count"] += count
        if money_column:
            money = row[money_column]
            if money is None:
                total["lower_bound"] = True
            else:
                total["money"] = (total["money"] or Decimal(0)) + Decimal(money)
    items = sorted(totals.items()) if per_province else totals.items()
    groups = tuple(Group(key, **value) for key, value in items)
    return Breakdown(column, per_province, count_column, money_column, groups)


def _rows(table):
    """The rows of `table` (or of nothing, for None) as dicts, one batch at a time."""
    for batch in table.to_batches() if table is not None else ():
        yield from batch.to_pylist()


def _wan(amount: Decimal | None) -> str:
    """Yuan as 万元 with two decimals, rounded half up as the finding lines round them."""
    if amount is None:
        return "—"
    return f"{(Decimal(amount) / 10000).quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def _charts(result: Breakdown, model: Model) -> str:
    if not result.groups:
        return "<p class='muted'>No result rows: there is nothing to chart.</p>"
    count_name = result.count_column or "rows"
    by = "province" if result.per_province else (result.column or "the whole federation")
    parts = []
    if not result.per_province:
        parts.append(
            f"<p class='note'>This result has no province column (its combine step adds the "
            f"nodes together), so the charts show national figures by "
            f"<code>{_e(by)}</code> instead.</p>")
    parts.append(svg_bar_chart(
        f"{count_name} by {by}",
        [(g.label, g.count, f"{g.count:,}", g.lower_bound) for g in result.groups]))
    if result.money_column:
        parts.append(svg_bar_chart(
            f"{result.money_column} (万元) by {by}",
            [(g.label, float(g.money or 0), _wan(g.money), g.lower_bound)
             for g in result.groups]))
    else:
        parts.append(f"<p class='muted'>{_e(model.id)} has no money measure, so there is "
                     "no amount chart.</p>")
    summed = (f"the sum of <code>{_e(count_name)}</code> over the result's cells in each "
              "group (a person counted in several cells, or at several nodes, counts in each)"
              if result.count_column else "the number of result rows in each group")
    parts.append(f"<p class='note'>Bars show {summed}. A bar drawn lighter and a value "
                 "marked ≥ are <strong>lower bounds</strong>: some node suppressed its part of "
                 "a cell under its disclosure policy, so the true figure is at least this.</p>")
    return "\n".join(parts)


def _findings(findings: Findings) -> str:
    """The finding lines (or, for a descriptive model, its summary per node), then notes."""
    parts = []
    if findings.style == "finding" and findings.lines:
        items = "".join(
            f"<li class='{'lb' if line.lower_bound else ''}'><span lang='zh-CN'>"
            f"{_e(line.text_zh)}</span><br><span class='gloss' lang='en'>{_e(line.text_en)}"
            "</span></li>" for line in findings.lines)
        parts.append(f"<ol class='findings'>{items}</ol>")
        rows = []
        for line in findings.lines:
            ge, cls = ("≥ ", "num lb") if line.lower_bound else ("", "num")
            rows.append([
                (line.scope_zh, ""), (line.period_zh or "-", ""),
                (f"{ge}{line.subjects:,} {line.unit_zh}" if line.subjects is not None
                 else "-", cls if line.subjects is not None else "sup"),
                (f"{ge}{line.amount_wan:,}" if line.amount_wan is not None else "-",
                 cls if line.amount_wan is not None else "sup"),
                (" / ".join(line.status_text), "")])
        parts.append(html_table(["地区 Region", "期间 Period", "对象 Subjects",
                                 "金额 Amount (万元)", "核实 Verification"], rows))
    elif findings.summary:
        items = "".join(f"<li><span lang='zh-CN'>{_e(zh)}</span><br><span class='gloss' "
                        f"lang='en'>{_e(en)}</span></li>"
                        for zh, en in (r.text(findings.columns) for r in findings.summary))
        parts.append(f"<ul class='findings'>{items}</ul>")
    else:
        parts.append("<p class='muted'>No result rows, so there is no finding.</p>")
    for zh, en in (*findings.notes, findings.coverage.text()):
        parts.append(f"<p class='note'>{_e(zh)}<br><span class='gloss'>{_e(en)}</span></p>")
    return "\n".join(parts)


def _verification(model: Model, verification: Mapping | None,
                  places: Mapping[str, NodePlace]) -> str:
    """The verification section: the nodes' case outcomes of a linkage task, or why none."""
    if verification is not None:
        return verification_section(verification, places)
    if model.linkage is not None:
        return ("<p><strong>Not included.</strong> This linkage model's leads go back to the "
                "nodes for verification (核实), but this report was made without their "
                "progress; see <code>fedaudit results verification</code>. Until the nodes "
                "report, no figure here is a confirmed finding.</p>")
    text = ("<p><strong>Not yet available.</strong> The nodes report verification outcomes "
            "(核实结果) for linkage models only, whose leads go back to them as local cases; "
            "this model is not one, so none of its figures is verified here and no precision "
            "is measured. No figure here is a confirmed finding.</p>")
    if model.kind == "aggregate" and not model.problem_types:
        text += ("<p class='muted'>This model reports aggregates without problem types: it "
                 "raises no leads that need local verification.</p>")
    return text


def _result_table(table, model: Model, max_rows: int) -> str:
    if table is None:
        return "<p class='muted'>No result rows.</p>"
    roles = {c.name: c.role for c in model.output.columns}
    hidden = [n for n in table.column_names if roles.get(n) == "token" or n in MARK_COLUMNS]
    names = [n for n in table.column_names if n not in hidden]
    rows = []
    for row in table.slice(0, max_rows).to_pylist():
        marked = bool(row.get("lower_bound"))
        cells = []
        for name in names:
            value, numeric = row[name], roles.get(name) in ("count", "measure")
            if value is None and numeric:
                cells.append(("suppressed", "sup"))
            elif marked and numeric:
                cells.append((f"≥ {_value(value)}", "num lb"))
            else:
                cells.append((_value(value), "num" if numeric else ""))
        rows.append(cells)
    notes = []
    if table.num_rows > max_rows:
        notes.append(f"Showing the first {max_rows:,} of {table.num_rows:,} rows; use "
                     "<code>fedaudit results export</code> for all of them.")
    if any(roles.get(n) == "token" for n in hidden):
        notes.append("Pseudonymous token columns are left out: they are for linkage, not for "
                     "reading.")
    notes.append("Cells marked ≥ are lower bounds (a node suppressed its part); "
                 "<em>suppressed</em> means no node could release the cell.")
    return html_table(names, rows) + "".join(f"<p class='note'>{n}</p>" for n in notes)


def _value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def render_report(provenance: Mapping, table, model: Model, *,
                  receipts: Mapping[str, str] | None = None,
                  places: Mapping[str, NodePlace] | None = None,
                  verification: Mapping | None = None,
                  generated_at: str | None = None, max_rows: int = 500) -> str:
    """The whole report as one HTML document (a str), with no external reference.

    `provenance` and `table` (a pyarrow Table, or None) are what `PeopleClient.
    fetch_result` returns; `model` is the analysis that made them; `receipts` maps node
    id to its receipt verdict (`people_cli.verify_receipts`); `places` says where each
    node sits (`findings.places_from_roster`); `verification` is a linkage task's
    verification summary (`PeopleClient.verification`), shown as a table with the
    model's precision per node and as the finding lines' status; the per-province
    figures are then the nodes' case counts and amounts (`verification.findings_of`).
    Raises ReportError when `model` is not the
    result's analysis (another id, version or digest).
    """
    analysis = provenance.get("analysis") or {}
    for key in ("id", "version", "digest"):
        if analysis.get(key) != getattr(model, key):
            raise ReportError(
                f"the result was made by {analysis.get('id')}@{analysis.get('version')} "
                f"(digest {str(analysis.get('digest'))[:12]}…) but the library gives "
                f"{model.id}@{model.version} (digest {model.digest[:12]}…); report it with "
                "the model library that made it")
    generated_at = generated_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    places = places or {}
    findings, table = findings_of(table, provenance, model, places, verification)
    result = breakdown(table, model, places)
    nodes = provenance.get("nodes") or []
    answered = sum(1 for n in nodes if n.get("state") == "done")
    head = definition_list([
        ("Task", provenance.get("task_id")),
        ("Analysis", f"{model.id}@{model.version} ({model.method_code}, {model.kind})"),
        ("Digest", model.digest),
        ("State", f"{provenance.get('state')}: {answered} of {len(nodes)} nodes answered"),
        ("Rows", provenance.get("rows") or 0),
        ("Submitted by", provenance.get("submitted_by")),
        ("Combined at", provenance.get("combined_at")),
        ("Report generated at", generated_at),
    ])
    warning = ""
    missing = [n for n in nodes if n.get("state") in NOT_ANSWERED_STATES]
    if missing:
        warning = (f"<p class='warn'>Partial coverage: {len(missing)} of {len(nodes)} nodes "
                   "did not answer, so every figure covers only the nodes that did "
                   "(see Coverage).</p>")
    sections = [
        ("charts", "按省份 Per province", _charts(result, model)),
        ("findings", "审计发现 Findings", _findings(findings)),
        ("verification", "核实进度与模型精度 Verification and model precision",
         _verification(model, verification, places)),
        ("result", "结果 Result rows", _result_table(table, model, max_rows)),
        *provenance_sections(provenance, model, receipts or {}, places),
    ]
    title = f"{model.title_zh} {model.title_en} — task {provenance.get('task_id')}"
    return page(title, model.title_zh, model.title_en, head + warning, sections)
