"""`fedaudit results findings`: a result as audit findings, and the sheets of its workbook.

The result is read through `PeopleClient.fetch_result`, so the coordinator applies its
sharing rules (an office sees only what its grants allow); nothing here reads a result
file directly. `workbook_tables` gives the sheets of a result's workbook (findings, coverage,
provenance and the result rows), for `results findings --xlsx` and `results export
--format xlsx`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import click
import pyarrow as pa

from coordinator.findings import (
    STATUSES,
    Findings,
    places_from_roster,
    region_name,
)
from coordinator.people_cli import COORDINATOR_OPTION, KIT_OPTION, _fetch, fetch_verification_of
from node.xlsx import write_xlsx

__all__ = ["findings_command", "findings_text", "library_model", "workbook_tables",
           "write_xlsx"]



def library_model(analysis: Mapping):
    """The library's model that made a result, or None when the library here lacks that
    id or holds another version (the findings are then rendered from the columns)."""
    from analyses import AnalysisError, load_library

    try:
        model = load_library().get(str(analysis.get("id", "")))
    except AnalysisError:
        return None
    same = (model.digest == analysis["digest"] if analysis.get("digest")
            else model.version == analysis.get("version"))
    return model if same else None


def findings_text(findings: Findings) -> list[str]:
    """The findings as printed: heading, finding lines or summary, coverage, notes."""
    a = findings.analysis
    out = [f"任务 task {findings.task_id}：{a.get('id')}@{a.get('version')} "
           f"{a.get('title_zh', '')}（{a.get('title_en', '')}），状态 state {findings.state}"]
    if findings.style == "table" and findings.summary:
        out.append("汇总（每节点） Summary per node:")
        for row in findings.summary:
            zh, en = row.text(findings.columns)
            out += [f"  {zh}", f"    {en}"]
    elif findings.lines:
        out.append("审计发现 Findings:")
        for number, line in enumerate(findings.lines, start=1):
            mark = "合计" if line.key == "national" else f"{number}."
            out += [f"  {mark} {line.text_zh}", f"     {line.text_en}"]
    else:
        out.append("无结果行 / no result rows")
    out += list(findings.coverage.text())
    for zh, en in findings.notes:
        out.append(f"注：{zh}。 Note: {en}.")
    return out


def _table(rows: list[dict], schema: list[tuple[str, pa.DataType]]) -> pa.Table:
    return pa.table({name: pa.array([r.get(name) for r in rows], type=kind)
                     for name, kind in schema})


def workbook_tables(findings: Findings, table: pa.Table | None = None,
                    provenance: Mapping | None = None,
                    places: Mapping | None = None) -> dict[str, pa.Table]:
    """Sheet name -> table: the findings (annex-table shape and data, or the per-node
    summary and detail), coverage, provenance, and the result rows when given."""
    money = pa.decimal128(38, 2)
    sheets: dict[str, pa.Table] = {}
    if findings.style == "finding" and findings.lines:
        annex = [{"序号 No.": i, "问题类型 Problem type": line.problem_type,
                  "单位/项目/保障对象 Scope": line.scope_zh, "问题事项 Finding": line.text_zh,
                  "Finding (English)": line.text_en,
                  "初步整改情况 Status": STATUSES[line.status][0]}
                 for i, line in enumerate(findings.lines, start=1)]
        sheets["findings"] = pa.Table.from_pylist(annex)
        sheets["finding data"] = _table([line.to_dict() | {
            "amount_yuan": line.amount_yuan, "amount_wan": line.amount_wan}
            for line in findings.lines], [
            ("key", pa.string()), ("region_code", pa.string()), ("scope_zh", pa.string()),
            ("scope_en", pa.string()), ("period_start", pa.string()),
            ("period_end", pa.string()), ("problem_type", pa.string()),
            ("subjects", pa.int64()), ("unit_zh", pa.string()), ("unit_en", pa.string()),
            ("per_cell", pa.bool_()), ("peak", pa.int64()), ("amount_yuan", money),
            ("amount_wan", money), ("lower_bound", pa.bool_()), ("status", pa.string())])
    elif findings.summary:
        for name, rows in (("summary", findings.summary), ("detail", findings.detail)):
            if rows:
                sheets[name] = pa.Table.from_pylist([
                    {"node": r.key, "region_code": r.region_code, "label_zh": r.label_zh,
                     "label_en": r.label_en, **({"entity": r.entity} if name == "detail"
                                                else {}),
                     "size": r.size, **{c: r.values.get(c) for c, _ in findings.columns},
                     "lower_bound": r.lower_bound} for r in rows])
    cov = findings.coverage
    states = {n: ("done", "") for n in cov.answered} | {n: ("refused", c) for n, c in cov.refused}
    states |= {n: ("failed", m) for n, m in cov.failed} | {n: ("missing", "") for n in cov.missing}
    places = places or {}
    sheets["coverage"] = _table([
        {"node_id": n, "level": getattr(places.get(n), "level", None),
         "region_code": getattr(places.get(n), "region", None),
         "region": region_name(getattr(places.get(n), "region", None))[0] if n in places
         else None, "state": state, "detail": detail}
        for n, (state, detail) in states.items()],
        [(c, pa.string()) for c in ("node_id", "level", "region_code", "region", "state",
                                    "detail")])
    if provenance is not None:
        fields = {"task_id": provenance.get("task_id"), "state": provenance.get("state"),
                  "rows": provenance.get("rows"), "submitted_by": provenance.get("submitted_by"),
                  "combined_at": provenance.get("combined_at"), "notes": provenance.get("notes"),
                  **{f"analysis.{k}": v for k, v in (provenance.get("analysis") or {}).items()}}
        sheets["provenance"] = pa.table({
            "field": list(fields),
            "value": [None if v is None else str(v) for v in fields.values()]})
    if table is not None:
        sheets["result"] = table
    return sheets


# -- the command --------------------------------------------------------------------------


@click.command("findings")
@click.argument("task_id")
@KIT_OPTION
@COORDINATOR_OPTION
@click.option("--json", "as_json", is_flag=True,
              help="The finding lines, summary, coverage and notes as JSON.")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the findings, coverage, provenance and result rows to this "
                   "Excel workbook (replaced atomically).")
def findings_command(task_id, kit_path, address, as_json, xlsx_path) -> None:
    """Show a result as audit findings: one line per province, and the national total.

    Each line states the period, the region, the problem type, the number of persons
    (households, institutions) and the amount in 万元, in Chinese with an English gloss,
    and the verification status; "≥" marks figures that miss cells withheld by a node's
    disclosure rules. A coverage line says which nodes answered, refused or never
    answered. A result that is not about persons and money (e.g. data quality) is
    summarised per node instead.
    """
    from coordinator.verification import findings_of

    kit, provenance, table = _fetch(kit_path, address, task_id)
    places = places_from_roster(kit.roster())
    findings, _ = findings_of(table, provenance, library_model(provenance.get("analysis") or {}),
                              places, fetch_verification_of(kit, address, provenance))
    if xlsx_path:
        write_xlsx(workbook_tables(findings, table, provenance, places), xlsx_path)
    if as_json:
        click.echo(json.dumps(findings.to_dict(), ensure_ascii=False, default=str, indent=2))
    else:
        for line in findings_text(findings):
            click.echo(line)
    if xlsx_path:
        click.echo(f"wrote the findings workbook to {xlsx_path}", err=as_json)
