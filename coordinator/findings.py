"""Finding lines the way audit offices report them, from a result, its provenance and model.

Audit reports state a finding in one sentence of fixed shape (reference §5.2): period,
region scope, problem type, persons (households, institutions), amount in 万元, status.
`build_findings` writes it per province (node) plus a national total, in Chinese with an
English gloss, and a coverage line; a result not about persons and money (data quality)
gets a table-style summary per node instead. The rendering reads the model's output
roles: the ``count`` column gives the subjects, a DECIMAL measure the money (yuan), a
``node``/``node_id`` or ``region``/``*admdvs`` column the provinces; a model the library
here lacks is read from column names and types; `HINTS` says what roles cannot. All
functions are pure; `coordinator.findings_cli` fetches and prints.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import pyarrow as pa

from coordinator._findings_columns import HINTS, Columns, Hint, as_date, read_columns
from coordinator._findings_text import (
    NATIONAL,
    STATUSES,
    Coverage,
    FindingLine,
    Findings,
    Progress,
    SummaryRow,
    label_of,
    period_text,
    region_name,
    scope_text,
    sentence,
)

__all__ = [
    "HINTS",
    "STATUSES",
    "Coverage",
    "FindingLine",
    "Findings",
    "Hint",
    "NodePlace",
    "Progress",
    "SummaryRow",
    "build_findings",
    "places_from_roster",
    "region_name",
]


@dataclass(frozen=True)
class NodePlace:
    """Where a node sits in the federation, as the roster says."""

    node_id: str
    level: str
    region: str


def places_from_roster(roster) -> dict[str, NodePlace]:
    """Node id -> NodePlace for every node of a verified `certs` roster."""
    return {p.id: NodePlace(p.id, p.level or "", p.region or "") for p in roster.nodes()}


@dataclass
class _Tally:
    """Running sums over the rows of one group."""

    rows: int = 0
    subjects: int = 0
    subjects_seen: bool = False
    amount: Decimal = Decimal(0)
    amount_seen: bool = False
    lower_bound: bool = False
    first: dt.date | None = None
    last: dt.date | None = None
    cells: Counter = field(default_factory=Counter)
    per_period: Counter = field(default_factory=Counter)
    units: set = field(default_factory=set)

    def add(self, key: str, row: Mapping, cols: Columns) -> None:
        self.rows += 1
        count = row.get(cols.count) if cols.count else None
        amount = row.get(cols.amount) if cols.amount else None
        if row.get("lower_bound") or (cols.count and count is None) or \
                (cols.amount and amount is None):
            self.lower_bound = True  # a withheld part or cell: what is shown is a minimum
        if count is not None:
            self.subjects += int(count)
            self.subjects_seen = True
        if amount is not None:
            self.amount += Decimal(str(amount))
            self.amount_seen = True
        unit = tuple(row.get(c) for c in cols.regions)
        if cols.dims:
            self.cells[key, unit] += 1
        if cols.period:
            month = as_date(row.get(cols.period))
            if month is not None:
                self.first = min(self.first or month, month)
                self.last = max(self.last or month, month)
                self.per_period[month] += int(count or 0)
        if (count or amount) and cols.regions:
            self.units.update(str(v) for v in unit if v)

    @property
    def per_cell(self) -> bool:
        """Whether a subject may count more than once (once per scheme, month, … cell)."""
        return any(n > 1 for n in self.cells.values())


def _group_key(row: Mapping, cols: Columns) -> str:
    if cols.group:
        return str(row.get(cols.group) or "")
    value = row.get(cols.regions[0]) if cols.regions else None
    return (str(value)[:2] + "0000") if value else ""


def _parameter_period(parameters: Mapping, model) -> tuple[dt.date | None, dt.date | None,
                                                            dt.date | None]:
    """(start, end, as_of) from the task's parameters; a declared default means "all"."""
    defaults = {p.name: p.default for p in model.parameters} if model is not None else {}
    found: dict[str, dt.date | None] = {"start": None, "end": None, "as_of": None}
    for name, value in parameters.items():
        if name in defaults and value is not None and as_date(value) == as_date(
                defaults[name]):
            continue
        for slot in found:
            if name == slot or name.endswith("_" + slot):
                found[slot] = found[slot] or as_date(value)
    return found["start"], found["end"], found["as_of"]


def _problem(model, analysis: Mapping) -> tuple[str, str, str]:
    """(Chinese title, English title, problem type for the annex table)."""
    if model is None:
        return analysis.get("title_zh", ""), analysis.get("title_en", ""), \
            analysis.get("title_zh", "")
    codes = "、".join(model.problem_types)
    kind = "·".join(model.category) + (f"（{codes}）" if codes else "")
    return model.title_zh, model.title_en, kind


def _status(key: str, model, verification: Mapping[str, str | Progress]
            ) -> tuple[str, Progress | None]:
    """The line's verification status and counts: given, else pending unless the result is
    a known model's descriptive total (an aggregate that declares no problem type) or a
    presence linkage (which opens no case: being present elsewhere is a fact)."""
    status = verification.get(key)
    progress = status if isinstance(status, Progress) else None
    if progress is not None:
        status = progress.status
        if status not in ("verifying", "verified"):
            raise ValueError(f"verification counts go with status verifying or verified, "
                             f"not {status!r}")
    if status is None:
        descriptive = model is not None and (
            (model.kind == "aggregate" and not model.problem_types)
            or (model.linkage is not None and not model.linkage.resolves))
        status = "not_applicable" if descriptive else "pending"
    if status not in STATUSES:
        raise ValueError(f"verification status {status!r} is not one of "
                         f"{', '.join(STATUSES)}")
    return status, progress


def _label(key: str, cols: Columns, places: Mapping[str, NodePlace]) -> tuple[str, str, str]:
    """(region code, Chinese label, English label) of a group."""
    if not cols.group:
        zh, en = region_name(key)
        return key, zh, en
    place = places.get(key)
    if place is None:
        return "", key or "未知节点", key or "unknown node"
    zh, en = region_name(place.region)
    if place.level == "province" and place.region[2:] == "0000":
        return place.region, zh, en
    return place.region, f"{key}（{zh}）", f"{key} ({en})"


def _order(key: str, cols: Columns, places: Mapping[str, NodePlace]) -> tuple:
    """Provinces by region code first, then other nodes, then rows of no known region."""
    place = places.get(key) if cols.group else None
    region = (place.region if place else "") if cols.group else key
    return (not region, bool(cols.group) and (place is None or place.level != "province"),
            region, key)


def _line(key: str, tally: _Tally, cols: Columns, context: dict, scope: tuple[str, str],
          region: str) -> FindingLine:
    first, last = tally.first or context["start"], tally.last or context["end"]
    period = period_text(first, last, context["as_of"] if not (first or last) else None)
    peak = max(tally.per_period.values()) if tally.per_cell and tally.per_period else None
    status, progress = _status(key, context["model"], context["verification"])
    line = FindingLine(
        key=key, region_code=region, scope_zh=scope[0], scope_en=scope[1],
        period_start=first.isoformat() if first else None,
        period_end=last.isoformat() if last else None, period_zh=period[0],
        period_en=period[1], problem_zh=context["problem"][0],
        problem_en=context["problem"][1], problem_type=context["problem"][2],
        subjects=tally.subjects if tally.subjects_seen else None,
        unit=cols.unit if cols.count else "", per_cell=tally.per_cell, peak=peak,
        amount_yuan=tally.amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
        if tally.amount_seen else None,
        has_amount=cols.amount is not None, lower_bound=tally.lower_bound, status=status,
        progress=progress)
    return line.with_text(*sentence(line))


def _rows(table: pa.Table, names: list):
    """The rows of `table` as dicts of the named columns it has, batch by batch."""
    names = [n for n in dict.fromkeys(names) if n and n in table.column_names]
    for batch in table.select(names).to_batches():
        yield from batch.to_pylist()


def _finding_lines(table: pa.Table, cols: Columns, places: Mapping[str, NodePlace],
                   context: dict) -> tuple[list[FindingLine], list[tuple[str, str]]]:
    groups: dict[str, _Tally] = {}
    total, provinces = _Tally(), _Tally()
    split = bool(cols.group or cols.regions)
    names = [cols.group, *cols.regions, *cols.dims, cols.count, cols.amount, "lower_bound"]
    for row in _rows(table, names):
        key = _group_key(row, cols)
        if split:
            groups.setdefault(key, _Tally()).add(key, row, cols)
        total.add(key, row, cols)
        place = places.get(key)
        if cols.group and place is not None and place.level == "province":
            provinces.add(key, row, cols)
    lines, notes = [], []
    for key in sorted(groups, key=lambda k: _order(k, cols, places)):
        region, zh, en = _label(key, cols, places)
        units = groups[key].units if cols.regions else set()
        lines.append(_line(key, groups[key], cols, context, scope_text(zh, en, units), region))
    others = [k for k in groups if cols.group and (places.get(k) is None
                                                   or places[k].level != "province")]
    national = total
    if others and provinces.rows:
        national = provinces
        notes.append(("非省级节点（" + "、".join(sorted(others)) + "）单列，不计入全国合计",
                      f"non-province nodes ({', '.join(sorted(others))}) are listed but "
                      "not added to the national total"))
    if cols.regions and not cols.group:
        parts, word = list(groups), ("个省份", "province")  # groups are province codes
    else:
        nodes = list(groups) if split else [n.get("node_id") for n in context["nodes"]
                                            if n.get("state") == "done"]
        provinces_in = [k for k in nodes if k in places and places[k].level == "province"]
        parts, word = (provinces_in, ("个省份", "province")) if provinces_in else \
            (nodes, ("个节点", "node"))
    scope = (f"全国{len(parts)}{word[0]}",
             f"{len(parts)} {word[1]}{'' if len(parts) == 1 else 's'} nationwide")
    lines.append(_line("national", national, cols, context, scope, NATIONAL))
    if not split:
        notes.append(("本模型结果未按省份分列，仅有全国合计",
                      "the result is not broken down by province: national total only"))
    elif cols.count and len(groups) > 1:
        notes.append(("全国人数为各节点人数相加，同一对象在两个节点均被计数",
                      "the national count adds the nodes' counts: a subject present at "
                      "two nodes counts twice"))
    return lines, notes


def _summary(table: pa.Table, cols: Columns, hint: Hint, places: Mapping[str, NodePlace]
             ) -> tuple[list[SummaryRow], list[SummaryRow], tuple[tuple[str, str], ...]]:
    """Table style: one row per node (group) and one per node and entity."""
    wanted = hint.summary or tuple(
        (n, "max" if pa.types.is_floating(table.schema.field(n).type) else "sum")
        for n in (cols.count, *([cols.amount] if cols.amount else []), *cols.measures) if n)
    columns = [c for c, _ in wanted if c in table.column_names]
    entity = hint.entity if hint.entity in table.column_names else None
    names = [cols.group, *cols.regions[:1], entity, *columns, "lower_bound"]
    blocks: dict[tuple[str, str], dict] = {}
    for row in _rows(table, names):
        key = (_group_key(row, cols), str(row.get(entity)) if entity else "")
        block = blocks.setdefault(key, {"rows": 0, "lower_bound": False, "values": {}})
        block["rows"] += 1
        block["lower_bound"] |= bool(row.get("lower_bound"))
        for column, how in wanted:
            if not (entity and column in block["values"]):  # an entity's facts repeat on
                _fold(block["values"], column, how, row.get(column))  # its rows: read once
    detail, per_group = [], {}
    for (key, ent), block in sorted(blocks.items(), key=lambda item: (
            _order(item[0][0], cols, places), item[0][1])):
        label = _label(key, cols, places) if key else (NATIONAL, *label_of("all"))
        detail.append(SummaryRow(key, *label, ent, block["rows"], block["values"],
                                 block["lower_bound"]))
        group = per_group.setdefault(key, {"label": label, "entities": 0, "rows": 0,
                                           "values": {}, "lower_bound": False})
        group["entities"] += 1
        group["rows"] += block["rows"]
        group["lower_bound"] |= block["lower_bound"]
        for column, how in wanted:
            _fold(group["values"], column, how, block["values"].get(column))
    summary = [SummaryRow(key, *g["label"], entity or "", g["entities"] if entity else g["rows"],
                          g["values"], g["lower_bound"]) for key, g in per_group.items()]
    return summary, (detail if entity else []), tuple((c, h) for c, h in wanted if c in columns)


def _fold(values: dict, column: str, how: str, value) -> None:
    """Adds `value` into values[column] by `how` (sum, max or min); None adds nothing."""
    if value is None:
        return
    seen = values.get(column)
    values[column] = value if seen is None else (
        max(seen, value) if how == "max" else min(seen, value) if how == "min" else seen + value)


def _total_rows(table: pa.Table, dimension: str) -> pa.Table:
    """The rows whose `dimension` is empty (the totals over it), without that column."""
    import pyarrow.compute as pc

    column = table.column(dimension)
    empty = pc.is_null(column)
    if pa.types.is_string(column.type):
        empty = pc.or_kleene(empty, pc.equal(column, ""))
    return table.filter(pc.fill_null(empty, True)).drop_columns([dimension])


def build_findings(
    table: pa.Table | None,
    provenance: Mapping,
    model=None,
    places: Mapping[str, NodePlace] | None = None,
    *,
    parameters: Mapping[str, object] | None = None,
    verification: Mapping[str, str | Progress] | None = None,
) -> Findings:
    """The finding lines (or table-style summary) and coverage of one combined result.

    ``table`` is the result as fetched (None when no node answered), ``provenance`` its
    provenance (coordinator.service), ``model`` the library's `analyses.Model` of the
    result (None when the library here lacks that version: the rendering then reads the
    result's column names and types), ``places`` node id -> NodePlace from the roster
    (`places_from_roster`). ``parameters`` are the task's parameter values, if known
    (default: ``provenance["parameters"]`` when present); period parameters state the
    period when the result has no period column. ``verification`` maps a line's key
    (node id, province code or "national") to a key of `STATUSES`, or to a `Progress`
    with the case counts of a linkage task (`coordinator.verification.line_progress`
    makes them from the coordinator's verification summary); lines without one are
    "pending" for problem models and "not_applicable" for descriptive totals.

    Raises ValueError for a verification status that is not a key of `STATUSES`, or a
    Progress whose status is neither verifying nor verified.
    """
    places = places or {}
    analysis = dict(provenance.get("analysis") or {})
    hint = HINTS.get(analysis.get("id", ""), Hint())
    nodes = list(provenance.get("nodes") or [])
    coverage = Coverage.of(nodes)
    start, end, as_of = _parameter_period(
        parameters if parameters is not None else provenance.get("parameters") or {}, model)
    context = {"model": model, "analysis": analysis, "nodes": nodes, "start": start,
               "end": end, "as_of": as_of, "verification": verification or {},
               "problem": _problem(model, analysis)}
    if model is not None:
        analysis.setdefault("method_code", model.method_code)
        analysis["problem_types"] = list(model.problem_types)
        analysis["category"] = list(model.category)
    lines, notes, summary, detail, columns = [], [], [], [], ()
    if provenance.get("shared"):  # an office's view, limited by its grants
        regions = ", ".join(provenance["shared"].get("regions") or []) or "all"
        notes.append((f"本结果为授权查看范围（地区：{regions}）", f"an office's view of the "
                      f"result, limited by its grants (regions: {regions})"))
    style = "finding"
    if table is not None and table.num_rows and hint.totals in table.column_names:
        table = _total_rows(table, hint.totals)
    if table is not None and table.num_rows:
        cols = read_columns(table.schema, model, hint)
        style = hint.style if hint.style != "auto" else (
            "finding" if cols.count or cols.amount else "table")
        if style == "finding":
            lines, notes = _finding_lines(table, cols, places, context)
        else:
            summary, detail, columns = _summary(table, cols, hint, places)
    return Findings(task_id=str(provenance.get("task_id", "")), analysis=analysis,
                    state=str(provenance.get("state", "")), style=style, lines=tuple(lines),
                    summary=tuple(summary), detail=tuple(detail), coverage=coverage,
                    notes=tuple(notes), columns=columns)
