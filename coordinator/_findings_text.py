"""The value types of findings and their wording: regions, periods, sentences, coverage.

`coordinator.findings` builds these from a result; this module only says them, in
Chinese as audit reports do (reference §5.2) with an English gloss.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

#: GB/T 2260 province-level codes (first two digits): Chinese and English names.
PROVINCES = {
    "11": ("北京市", "Beijing"), "12": ("天津市", "Tianjin"), "13": ("河北省", "Hebei"),
    "14": ("山西省", "Shanxi"), "15": ("内蒙古自治区", "Inner Mongolia"),
    "21": ("辽宁省", "Liaoning"), "22": ("吉林省", "Jilin"), "23": ("黑龙江省", "Heilongjiang"),
    "31": ("上海市", "Shanghai"), "32": ("江苏省", "Jiangsu"), "33": ("浙江省", "Zhejiang"),
    "34": ("安徽省", "Anhui"), "35": ("福建省", "Fujian"), "36": ("江西省", "Jiangxi"),
    "37": ("山东省", "Shandong"), "41": ("河南省", "Henan"), "42": ("湖北省", "Hubei"),
    "43": ("湖南省", "Hunan"), "44": ("广东省", "Guangdong"),
    "45": ("广西壮族自治区", "Guangxi"), "46": ("海南省", "Hainan"), "50": ("重庆市", "Chongqing"),
    "51": ("四川省", "Sichuan"), "52": ("贵州省", "Guizhou"), "53": ("云南省", "Yunnan"),
    "54": ("西藏自治区", "Xizang"), "61": ("陕西省", "Shaanxi"), "62": ("甘肃省", "Gansu"),
    "63": ("青海省", "Qinghai"), "64": ("宁夏回族自治区", "Ningxia"),
    "65": ("新疆维吾尔自治区", "Xinjiang"), "66": ("新疆生产建设兵团", "Xinjiang Corps"),
}
#: The region code of national nodes (registries, the ministry) and of the national line.
NATIONAL = "100000"
#: Verification status of a finding: Chinese, English.
STATUSES = {
    "pending": ("待核实", "pending verification"),
    "verifying": ("核实中", "verification in progress"),
    "verified": ("已核实", "verified"),
    "not_applicable": ("统计汇总，无需核实", "descriptive total, nothing to verify"),
}
#: What a count column counts: Chinese unit, English, and both when a subject may count
#: once per cell (scheme, month, …) so that the sum is not a number of distinct subjects.
UNITS = {
    "persons": ("人", "persons", "人次", "person-counts"),
    "households": ("户", "households", "户次", "household-counts"),
    "institutions": ("家", "institutions", "家次", "institution-counts"),
    "dwellings": ("套", "dwellings", "套次", "dwelling-counts"),
    "records": ("条", "records", "条", "records"),
}
#: Labels of well-known columns in table-style summaries; others show their own name.
LABELS = {
    "rows": ("记录数", "rows"), "invalid_ids": ("无效身份证号", "invalid IDs"),
    "missing_months": ("缺失月份数", "missing months"), "lag_days": ("滞后天数", "lag (days)"),
    "dataset": ("数据集数", "datasets"), "persons": ("人数", "persons"),
    "amount": ("金额（元）", "amount (yuan)"), "all": ("全部节点", "all nodes"),
}
_AGGREGATE = {"sum": ("", ""), "max": ("最大", "largest "), "min": ("最小", "smallest ")}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LOWER_BOUND_ZH = "部分单元格因保密规则未披露"
LOWER_BOUND_EN = "some cells withheld under disclosure rules"


def region_name(code: str | None) -> tuple[str, str]:
    """(Chinese, English) name of a 6-digit GB/T 2260 code: a province, the nation, or the
    code itself under its province; an unknown code is named by itself."""
    if not code:
        return "未知地区", "unknown region"
    code = str(code)
    if code in (NATIONAL, "000000"):
        return "全国", "national"
    province = PROVINCES.get(code[:2])
    if province is None:
        return f"地区{code}", f"region {code}"
    if len(code) == 2 or code[2:] == "0000":
        return province
    return f"{province[0]}（{code}）", f"{province[1]} ({code})"


def label_of(column: str) -> tuple[str, str]:
    """(Chinese, English) label of a result column."""
    return LABELS.get(column, (column, column.replace("_", " ")))


def period_text(first: dt.date | None, last: dt.date | None,
                as_of: dt.date | None = None) -> tuple[str, str]:
    """The period covered as audit reports write it: 2022年至2024年, 2024年3月至2025年6月."""
    if not (first or last):
        if as_of:
            return f"截至{as_of.year}年{as_of.month}月{as_of.day}日", f"as of {as_of.isoformat()}"
        return "", ""
    first, last = first or last, last or first
    if first.month == 1 and last.month == 12:
        if first.year == last.year:
            return f"{first.year}年", str(first.year)
        return f"{first.year}年至{last.year}年", f"{first.year}–{last.year}"
    en = f"{_MONTHS[first.month - 1]} {first.year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.year}年{first.month}月", en
    end_zh = f"{last.month}月" if first.year == last.year else f"{last.year}年{last.month}月"
    return (f"{first.year}年{first.month}月至{end_zh}",
            f"{en} – {_MONTHS[last.month - 1]} {last.year}")


def scope_text(zh: str, en: str, codes: set[str]) -> tuple[str, str]:
    """A region's scope with the number of prefectures and counties that have the problem,
    as in 山东省2市48县, when the result names regions below the province."""
    cities = {c[:4] for c in codes if len(c) == 6 and c[2:4] != "00"}
    counties = {c for c in codes if len(c) == 6 and c[4:] != "00"}
    if not cities:
        return zh, en
    zh += f"{len(cities)}市" + (f"{len(counties)}县（区）" if counties else "")
    en += f" ({len(cities)} prefectures" + (f", {len(counties)} counties)" if counties else ")")
    return zh, en


def _wan(yuan: Decimal) -> Decimal:
    return (yuan / 10000).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Progress:
    """How far the local verification of a line's leads has come, from the nodes' reports."""

    status: str  # "verifying" or "verified", a key of STATUSES
    cases: int
    resolved: int
    confirmed: int
    partly: int = 0

    def text(self) -> tuple[str, str]:
        """核实中 3/12 (verification in progress: 3 of 12 cases resolved), or 已核实 12/12，
        确认 10 (verified: 12 of 12 cases resolved, 10 confirmed)."""
        zh, en = STATUSES[self.status]
        zh += f" {self.resolved}/{self.cases}"
        en += f": {self.resolved:,} of {self.cases:,} cases resolved"
        if self.status == "verified":
            zh += f"，确认{self.confirmed}"
            en += f", {self.confirmed:,} confirmed"
            if self.partly:
                zh += f"，部分确认{self.partly}"
                en += f", {self.partly:,} partly"
        return zh, en


@dataclass(frozen=True)
class FindingLine:
    """One finding: a province's (or the national) line in the shape of reference §5.2."""

    key: str  # node id, province code, or "national"
    region_code: str
    scope_zh: str
    scope_en: str
    period_start: str | None
    period_end: str | None
    period_zh: str
    period_en: str
    problem_zh: str
    problem_en: str
    problem_type: str
    subjects: int | None
    unit: str  # a key of UNITS, or "" when the result counts nothing
    per_cell: bool  # the count adds cells (人次), not distinct subjects
    peak: int | None  # the largest one-period count, when per_cell
    amount_yuan: Decimal | None
    has_amount: bool
    lower_bound: bool
    status: str  # a key of STATUSES
    text_zh: str = ""
    text_en: str = ""
    progress: Progress | None = None  # verification counts, once nodes report them

    @property
    def status_text(self) -> tuple[str, str]:
        """The verification status in Chinese and English, with its counts when known."""
        return self.progress.text() if self.progress is not None else STATUSES[self.status]

    @property
    def amount_wan(self) -> Decimal | None:
        """The amount in 万元, two decimals."""
        return None if self.amount_yuan is None else _wan(self.amount_yuan)

    @property
    def unit_zh(self) -> str:
        return UNITS[self.unit][2 if self.per_cell else 0] if self.unit else ""

    @property
    def unit_en(self) -> str:
        return UNITS[self.unit][3 if self.per_cell else 1] if self.unit else ""

    def with_text(self, zh: str, en: str) -> FindingLine:
        return replace(self, text_zh=zh, text_en=en)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(amount_yuan=None if self.amount_yuan is None else str(self.amount_yuan),
                    amount_wan=None if self.amount_wan is None else str(self.amount_wan),
                    unit_zh=self.unit_zh, unit_en=self.unit_en)
        return data


def sentence(line: FindingLine) -> tuple[str, str]:
    """The Chinese finding sentence and its English gloss."""
    ge = "≥" if line.lower_bound else ""
    zh_parts, en_parts = [], []
    if line.unit:
        if line.subjects is None:
            zh_parts.append("人数未披露")
            en_parts.append("count not disclosed")
        else:
            peak_zh = f"（单期最多{line.peak}{UNITS[line.unit][0]}）" if line.peak else ""
            peak_en = (f" (at most {line.peak:,} {UNITS[line.unit][1]} in one period)"
                       if line.peak else "")
            zh_parts.append(f"涉及{ge}{line.subjects}{line.unit_zh}{peak_zh}")
            en_parts.append(f"{ge}{line.subjects:,} {line.unit_en}{peak_en}")
    if line.has_amount:
        if line.amount_yuan is None:
            zh_parts.append("金额未披露")
            en_parts.append("amount not disclosed")
        else:
            zh_parts.append(f"金额{ge}{line.amount_wan}万元")
            en_parts.append(f"{ge}{line.amount_wan} wan yuan (CNY {line.amount_yuan:,})")
    status_zh, status_en = line.status_text
    if line.lower_bound:
        status_zh, status_en = f"{LOWER_BOUND_ZH}；{status_zh}", f"{LOWER_BOUND_EN}; {status_en}"
    period_zh = f"{line.period_zh}，" if line.period_zh else ""
    period_en = f"{line.period_en}, " if line.period_en else ""
    zh = (f"{period_zh}{line.scope_zh}，{line.problem_zh}：" + "，".join(zh_parts or ["无数据"])
          + f"（{status_zh}）。")
    en = (f"{period_en}{line.scope_en} — {line.problem_en}: " + ", ".join(en_parts or ["no data"])
          + f" ({status_en}).")
    return zh, en


@dataclass(frozen=True)
class SummaryRow:
    """Table style: one node (or node and entity, e.g. dataset) of a non-finding result."""

    key: str
    region_code: str
    label_zh: str
    label_en: str
    entity: str  # the entity's value on a detail row; the entity column on a summary row
    size: int  # entities described (summary) or rows (detail)
    values: Mapping[str, object]
    lower_bound: bool

    def text(self, columns: tuple[tuple[str, str], ...]) -> tuple[str, str]:
        """`label：记录数 12，…` and its English, for the summary's (column, how) pairs."""
        ge = "≥" if self.lower_bound else ""
        head_zh, head_en = label_of(self.entity) if self.entity else ("单元格数", "cells")
        zh, en = [f"{head_zh} {self.size}"], [f"{head_en} {self.size:,}"]
        for column, how in columns:
            if column not in self.values:
                continue
            value = self.values[column]
            shown = f"{value:,}" if isinstance(value, int | Decimal) else str(value)
            mark = ge if how == "sum" else ""
            col_zh, col_en = label_of(column)
            zh.append(f"{_AGGREGATE[how][0]}{col_zh} {mark}{value}")
            en.append(f"{_AGGREGATE[how][1]}{col_en} {mark}{shown}")
        return (f"{self.label_zh}：" + "，".join(zh),
                f"{self.label_en}: " + ", ".join(en))


@dataclass(frozen=True)
class Coverage:
    """Which target nodes answered, refused (with the refusal code), failed or never answered."""

    targets: int
    answered: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]
    failed: tuple[tuple[str, str], ...]
    missing: tuple[str, ...]

    @classmethod
    def of(cls, nodes: list[Mapping]) -> Coverage:
        """From the provenance's node entries (node_id, state, refusal_code, message)."""
        by_state: dict[str, list] = {}
        for node in nodes:
            by_state.setdefault(node.get("state", ""), []).append(node)

        def ids(*states):
            return tuple(n["node_id"] for s in states for n in by_state.get(s, ()))

        return cls(
            targets=len(nodes), answered=ids("done"),
            refused=tuple((n["node_id"], n.get("refusal_code") or "")
                          for n in by_state.get("refused", ())),
            failed=tuple((n["node_id"], n.get("message") or "")
                         for n in by_state.get("failed", ())),
            missing=ids("missing", "pending", "delivered", "held"))

    def text(self) -> tuple[str, str]:
        """覆盖范围：… and Coverage: …"""
        zh = f"覆盖范围：目标节点{self.targets}个，已答复{len(self.answered)}个"
        en = f"Coverage: {len(self.answered)} of {self.targets} target nodes answered"
        if self.refused:
            zh += f"；拒绝{len(self.refused)}个：" + "、".join(
                f"{n}（{c}）" for n, c in self.refused)
            en += "; refused: " + ", ".join(f"{n} ({c})" for n, c in self.refused)
        if self.failed:
            zh += f"；失败{len(self.failed)}个：" + "、".join(n for n, _ in self.failed)
            en += "; failed: " + ", ".join(f"{n} ({m})" if m else n for n, m in self.failed)
        if self.missing:
            zh += f"；未答复{len(self.missing)}个：" + "、".join(self.missing)
            en += "; no answer: " + ", ".join(self.missing)
        return zh + "。", en + "."


@dataclass(frozen=True)
class Findings:
    """Everything `fedaudit results findings` shows for one result."""

    task_id: str
    analysis: Mapping
    state: str
    style: str  # finding | table
    lines: tuple[FindingLine, ...]  # per province (node), the national line last
    summary: tuple[SummaryRow, ...]  # table style: per node
    detail: tuple[SummaryRow, ...]  # table style: per node and entity
    coverage: Coverage
    notes: tuple[tuple[str, str], ...]
    columns: tuple[tuple[str, str], ...] = ()  # table style: (column, how) summarised

    def sentences(self) -> list[str]:
        """Each finding (or table-style summary row) as "Chinese English", in order."""
        if self.style == "table":
            return [" ".join(row.text(self.columns)) for row in self.summary]
        return [f"{line.text_zh} {line.text_en}" for line in self.lines]

    def to_dict(self) -> dict:
        """JSON-friendly: lines, summary rows, coverage and notes (decimals as strings)."""
        def row(r: SummaryRow) -> dict:
            return {**asdict(r), "values": {k: v if isinstance(v, int | float | str | None)
                                            else str(v) for k, v in r.values.items()}}

        return {"task_id": self.task_id, "analysis": dict(self.analysis), "state": self.state,
                "style": self.style, "lines": [line.to_dict() for line in self.lines],
                "summary": [row(r) for r in self.summary],
                "detail": [row(r) for r in self.detail],
                "coverage": {**asdict(self.coverage), "text_zh": self.coverage.text()[0],
                             "text_en": self.coverage.text()[1]},
                "notes": [{"zh": zh, "en": en} for zh, en in self.notes]}
