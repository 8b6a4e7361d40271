"""HTML and SVG building blocks of the audit report; every value passes through `_e`.

Also the provenance sections (coverage, snapshots, policies), the verification table of
a linkage task, and the page frame with its inline CSS and a Content-Security-Policy
that forbids loading anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from analyses.manifest import Model
from coordinator.findings import NodePlace, region_name
from coordinator.verification import (
    REASON_TEXT,
    STATUS_TEXT,
    amount_text,
    node_label,
    percent,
)

#: Delivery states of a node that gave no data to the result.
NOT_ANSWERED_STATES = ("refused", "failed", "missing", "pending", "delivered", "held")

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em auto;
max-width:60em;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.1em}h2{border-bottom:1px solid #ccc;margin-top:1.6em}
.sub{color:#555;margin-top:0}table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;white-space:nowrap}
td.lb{background:#fff4d6}td.sup{color:#999;font-style:italic}
.muted{color:#777}.note{color:#444;font-size:.9em}.gloss{color:#555;font-size:.9em}
ol.findings li{margin-bottom:.4em}li.lb{background:#fff4d6}
.warn{background:#fff4d6;border-left:4px solid #d9a400;padding:.4em .8em}
dl{display:grid;grid-template-columns:max-content auto;gap:.15em 1em}dt{font-weight:bold}
dd{margin:0}svg{display:block;margin:.8em 0}svg .bar{fill:#2f6fae}
svg .bar.lb{fill:#9dbfe0;stroke:#2f6fae;stroke-dasharray:3 2}svg .bar.neg{fill:#b5533c}
svg text{font-size:12px;fill:#222}svg .title{font-size:14px;font-weight:bold}
footer{margin-top:2em;color:#777;font-size:.85em}
@media print{body{margin:0}h2{break-after:avoid}}
"""
#: Even a stray reference could not leave the file: the browser may load nothing at all.
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def svg_bar_chart(title: str, bars: Sequence[tuple[str, float, str, bool]]) -> str:
    """An inline SVG horizontal bar chart: one `rect.bar` per (label, value, text, lower).

    Bars are scaled to the largest absolute value; a negative value is drawn as long as
    its absolute value and coloured apart; a lower bound is drawn lighter, dashed, and
    its text gets "≥".
    """
    label_w, bar_w, row_h, top = 200, 380, 22, 30
    height = top + row_h * len(bars) + 10
    peak = max((abs(v) for _, v, _, _ in bars), default=0) or 1
    out = [f'<svg class="chart" role="img" width="720" '
           f'height="{height}" viewBox="0 0 720 {height}" aria-label="{_e(title)}">',
           f"<title>{_e(title)}</title>",
           f'<text class="title" x="0" y="16">{_e(title)}</text>']
    for i, (label, value, text, lower) in enumerate(bars):
        y = top + i * row_h
        width = max(round(abs(value) / peak * bar_w, 1), 1 if value else 0)
        classes = "bar" + (" lb" if lower else "") + (" neg" if value < 0 else "")
        shown = f"≥ {text}" if lower else text
        out.append(
            f'<g><text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(label)}</text>'
            f'<rect class="{classes}" x="{label_w}" y="{y + 2}" width="{width}" height="16">'
            f"<title>{_e(label)}: {_e(shown)}</title></rect>"
            f'<text x="{label_w + width + 6}" y="{y + 13}">{_e(shown)}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


def html_table(header: Sequence[str], rows: Sequence[Sequence[tuple[str, str]]]) -> str:
    """A table; each cell is (text, CSS classes)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{_e(cls)}">{_e(text)}</td>' if cls else f"<td>{_e(text)}"
                         "</td>" for text, cls in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def definition_list(items: Sequence[tuple[str, object]]) -> str:
    """A definition list; an empty value shows as "-"."""
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e('-' if v in (None, '') else v)}</dd>"
                            for k, v in items) + "</dl>"


def _coverage(nodes: Sequence[Mapping], receipts: Mapping[str, str],
              places: Mapping[str, NodePlace]) -> str:
    rows = [[(n.get("node_id"), ""), (_place(places.get(n.get("node_id"))), ""),
             (n.get("state"), ""), (f"{n['rows']:,}" if "rows" in n else "", "num"),
             (receipts.get(n.get("node_id"), "not checked") if n.get("state") == "done"
              else "", ""),
             (n.get("refusal_code") or n.get("message") or "", "")] for n in nodes]
    absent = [n for n in nodes if n.get("state") != "done"]
    answered = len(nodes) - len(absent)
    text = f"<p>{answered} of {len(nodes)} target nodes answered.</p>"
    text += html_table(["Node", "Region", "State", "Rows", "Receipt", "Refusal / message"],
                       rows)
    if absent:
        items = "".join(
            f"<li><strong>{_e(n.get('node_id'))}</strong> {_e(n.get('state'))}"
            + (f": refusal <code>{_e(n['refusal_code'])}</code>" if n.get("refusal_code")
               else "") + (f" — {_e(n['message'])}" if n.get("message") else "") + "</li>"
            for n in absent)
        text += ("<h3>Refused or missing: their data is not in this result</h3>"
                 f"<ul class='absent'>{items}</ul>")
    else:
        text += "<p>Every target node answered; no node refused.</p>"
    return text


def _place(place: NodePlace | None) -> str:
    if place is None:
        return ""
    return f"{place.level} {place.region} {region_name(place.region)[0]}"


def _snapshots(nodes: Sequence[Mapping]) -> str:
    rows = [[(n.get("node_id"), ""), (dataset, ""), (snapshot, "")]
            for n in nodes for dataset, snapshot in sorted((n.get("snapshots") or {}).items())]
    if not rows:
        return "<p class='muted'>No node reported the snapshots it ran on.</p>"
    return html_table(["Node", "Dataset", "Snapshot"], rows)


def _policies(nodes: Sequence[Mapping]) -> str:
    rows = []
    for n in nodes:
        summary = n.get("disclosure") or {}
        rules = (summary.get("settings") or {}).get("disclosure") or {}
        release = (summary.get("settings") or {}).get("release") or {}
        if not summary:
            continue
        if summary.get("kind") == "aggregate":
            sup = summary.get("suppressed") or {}
            outcome = (f"{summary.get('released', 0)} of {summary.get('cells', 0)} cells "
                       f"released; suppressed {sup.get('primary', 0)} primary, "
                       f"{sup.get('secondary', 0)} secondary")
        else:
            public = summary.get("public") or {}
            outcome = f"{public.get('rows', 0)} rows, padded to buckets of {public.get('bucket')}"
        rows.append([(n.get("node_id"), ""), (rules.get("min_contributors", ""), "num"),
                     (rules.get("zeros", ""), ""),
                     (f"n={rules.get('dominance_n')}, k={rules.get('dominance_k')}", ""),
                     (rules.get("p_percent", ""), "num"),
                     (", ".join(f"{k}: {v}" for k, v in sorted(release.items())), ""),
                     (outcome, "")])
    if not rows:
        return "<p class='muted'>No node reported its disclosure policy with this result.</p>"
    return ("<p>Each node applies its own disclosure policy before anything leaves it; these "
            "are the effective settings its signed receipt records.</p>"
            + html_table(["Node", "Min. contributors", "Zeros", "Dominance", "p%", "Release",
                          "Applied"], rows))


def _verification_row(label: str, entry: Mapping) -> list[tuple[str, str]]:
    def count(key: str) -> tuple[str, str]:
        value = entry.get(key)
        return ("-", "sup") if value is None else (f"{value:,}", "num")

    reasons = "; ".join(f"{REASON_TEXT[r][0]} {REASON_TEXT[r][1]}: {n}"
                        for r, n in (entry.get("excluded_by_reason") or {}).items() if n)
    status = STATUS_TEXT.get(entry.get("status"), (entry.get("status"), ""))
    return [(label, ""), (" / ".join(status), ""), count("leads"), count("cases"),
            count("open"), count("confirmed"), count("partly"), count("excluded"),
            (reasons, ""), *((amount_text(entry.get(a)), "num") for a in (
                "amount_at_stake", "confirmed_amount", "recovered_amount")),
            (percent(entry.get("precision")), "num"), (entry.get("reported_at") or "", "")]


def verification_section(summary: Mapping, places: Mapping[str, NodePlace]) -> str:
    """Verification progress of a linkage task: a table per node, the national line, and a
    chart of the model's precision where cases were resolved.

    ``summary`` is what `coordinator.verification.verification_summary` returns.
    """
    nodes = summary.get("nodes") or []
    if not nodes:
        return ("<p class='muted'>No node has received leads of this task yet, so there is "
                "nothing to verify so far.</p>")
    national = summary.get("national") or {}
    rows = [_verification_row(node_label(e["node_id"], places), e) for e in nodes]
    rows.append(_verification_row("全国 National", national))
    text = html_table(["节点 Node", "状态 Status", "线索 Leads", "案件 Cases", "未结 Open",
                       "确认 Confirmed", "部分 Partly", "排除 Excluded", "排除原因 Reasons",
                       "涉及金额 At stake 万元 (元)", "确认金额 Confirmed 万元 (元)",
                       "追回 Recovered 万元 (元)", "精度 Precision", "报告时间 Reported"], rows)
    resolved = [e for e in nodes if e.get("precision") is not None]
    if resolved:
        text += svg_bar_chart("精度 Precision (%) by province", [
            (node_label(e["node_id"], places), e["precision"] * 100,
             f"{percent(e['precision'])} ({e['resolved']:,}/{e['cases']:,} resolved)", False)
            for e in resolved])
    missing = [node_label(e["node_id"], places) for e in nodes if not e.get("reported")]
    if missing:
        text += (f"<p class='warn'>Not reported yet: {_e(', '.join(missing))}. Their leads "
                 "are not verified; the national line adds only the nodes that reported.</p>")
    text += ("<p class='note'>Each node re-identifies only its own leads and verifies them on "
             "its own records; only these aggregates reach HQ. Precision is (confirmed + "
             "partly confirmed) / resolved cases; while a node still has open cases its "
             "precision may change.</p>")
    return text


def provenance_sections(provenance: Mapping, model: Model, receipts: Mapping[str, str],
                        places: Mapping[str, NodePlace]) -> list[tuple[str, str, str]]:
    """(anchor, heading, HTML) of coverage, snapshots, policies, sharing and the model."""
    nodes = provenance.get("nodes") or []
    sections = [
        ("coverage", "覆盖范围 Coverage", _coverage(nodes, receipts, places)),
        ("snapshots", "数据快照 Snapshots", _snapshots(nodes)),
        ("policies", "披露控制 Disclosure policies", _policies(nodes)),
    ]
    if shared := provenance.get("shared"):
        sections.append(("shared", "共享 Shared with you", definition_list([
            ("Owner", shared.get("owner")), ("Grants", ", ".join(shared.get("grants", []))),
            ("Parts", ", ".join(shared.get("parts", []))),
            ("Regions", ", ".join(shared.get("regions", [])) or "all"),
            ("Until", shared.get("expires_at"))])))
    sections.append(("model", "模型 Model", definition_list([
        ("Method", f"{model.method_code} {model.title_zh} ({model.title_en})"),
        ("Objective", model.objective.strip()), ("Notes", model.notes.strip() or "-"),
        ("Problem types", ", ".join(model.problem_types) or "-"),
        ("Legal basis", "; ".join(model.legal_basis)),
        ("Audit suggestion", model.audit_suggestion.strip()),
        ("Author unit", model.author_unit)])))
    return sections


def page(title: str, heading: str, subheading: str, head: str,
         sections: Sequence[tuple[str, str, str]]) -> str:
    """The document around the sections; `head` and each section's HTML are trusted."""
    toc = " · ".join(f'<a href="#{_e(a)}">{_e(h)}</a>' for a, h, _ in sections)
    body = "\n".join(f'<section id="{_e(a)}"><h2>{_e(h)}</h2>\n{html}</section>'
                     for a, h, html in sections)
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(heading)}</h1><p class='sub'>{_e(subheading)}</p>{head}"
            f"<nav>{toc}</nav>\n{body}\n<footer>Made by fedaudit from the result and its "
            "provenance. This file loads nothing from any network.</footer></body></html>\n")
