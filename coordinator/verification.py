"""Verification progress of linkage tasks at HQ: the nodes' case outcomes, checked and summed.

After the blind join each node re-identifies its own leads, opens local cases and reports
the outcomes as aggregates, one row per (outcome, reason) (DESIGN §3 step 9; the contract
of issue #6). `record_verification` checks a node's report and stores it in place of the
previous one; `verification_summary` gives HQ each node's leads, cases, outcomes, amounts
and the model's precision there, with national totals; `line_progress` turns a summary
into the verification status of finding lines. Case detail never reaches the
coordinator, and a report that carries anything beyond the aggregates is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from coordinator.errors import CoordinatorError
from coordinator.findings import NodePlace, Progress, region_name

__all__ = [
    "AMOUNTS",
    "MAX_REPORT_BYTES",
    "OUTCOMES",
    "REASONS",
    "REASON_TEXT",
    "STATUS_TEXT",
    "amount_text",
    "findings_of",
    "findings_table",
    "line_progress",
    "node_label",
    "percent",
    "record_verification",
    "verification_summary",
]

#: Case outcomes; "open" counts the cases nobody resolved yet.
OUTCOMES = ("open", "confirmed", "partly", "excluded")
#: Why a case was excluded (it needs one) or only partly confirmed (it may have one).
REASONS = ("data_error", "policy_allows", "registry_lag", "already_recovered", "other")
#: The money columns of an outcome row, as decimal strings of yuan.
AMOUNTS = ("amount_at_stake", "confirmed_amount", "recovered_amount")
#: A report is a few aggregate rows; anything larger is not one.
MAX_REPORT_BYTES = 64 * 1024

#: The status of a node's verification: Chinese, English.
STATUS_TEXT = {
    "not_reported": ("未报告", "not reported"),
    "verifying": ("核实中", "verifying"),
    "verified": ("已核实", "verified"),
}
#: Why cases were excluded: Chinese, English.
REASON_TEXT = {
    "data_error": ("数据错误", "data error"),
    "policy_allows": ("政策允许", "policy allows"),
    "registry_lag": ("登记滞后", "registry lag"),
    "already_recovered": ("已追回", "already recovered"),
    "other": ("其他", "other"),
}
_REPORT_KEYS = frozenset({"task_id", "node_id", "leads", "cases", "rows", "reported_at"})
_ROW_KEYS = frozenset({"outcome", "reason", "cases", *AMOUNTS})
#: Non-negative yuan with up to six decimals, no exponent, no sign.
_AMOUNT = re.compile(r"\d{1,20}(\.\d{1,6})?")
_CENT = Decimal("0.01")
#: The roster level of the nodes that give the attributes in the registry_attributes
#: pattern: they receive no leads, so they have nothing to verify.
_REGISTRY_LEVEL = "registry"


def _bad(message: str) -> CoordinatorError:
    return CoordinatorError(message, "BAD_REPORT")


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"{what} must be a non-negative whole number, not {value!r}")
    return value


def _amount(value: Any, what: str) -> Decimal:
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise _bad(f"{what} must be a non-negative decimal number of yuan written as a "
                   f"string (e.g. \"1234.50\"), not {value!r}")
    return Decimal(value)


def _rows(rows: Any, where: str) -> list[dict[str, Any]]:
    """The outcome rows, checked; raises BAD_REPORT naming the row and field at fault."""
    if not isinstance(rows, list):
        raise _bad(f"{where}: rows must be a list of outcome rows, not {type(rows).__name__}")
    checked, seen = [], set()
    for i, row in enumerate(rows, start=1):
        at = f"{where}, row {i}"
        if not isinstance(row, dict):
            raise _bad(f"{at} must be an object with {', '.join(sorted(_ROW_KEYS))}")
        if set(row) != _ROW_KEYS:
            missing, extra = sorted(_ROW_KEYS - set(row)), sorted(set(row) - _ROW_KEYS)
            raise _bad(f"{at} must have exactly the fields {', '.join(sorted(_ROW_KEYS))}"
                       + (f"; missing {', '.join(missing)}" if missing else "")
                       + (f"; not allowed {', '.join(extra)} (case detail stays at the node)"
                          if extra else ""))
        outcome, reason = row["outcome"], row["reason"] or None
        if outcome not in OUTCOMES:
            raise _bad(f"{at}: outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        if outcome == "excluded" and reason not in REASONS:
            raise _bad(f"{at}: an excluded row needs a reason, one of {', '.join(REASONS)}, "
                       f"not {reason!r}")
        if outcome == "partly" and reason is not None and reason not in REASONS:
            raise _bad(f"{at}: a partly confirmed row's reason is one of "
                       f"{', '.join(REASONS)} or none, not {reason!r}")
        if outcome in ("open", "confirmed") and reason is not None:
            raise _bad(f"{at}: {outcome} rows give no reason, not {reason!r}; only partly "
                       "confirmed and excluded cases have one")
        if (outcome, reason) in seen:
            raise _bad(f"{at} repeats outcome {outcome}" + (f" with reason {reason}"
                                                            if reason else "")
                       + "; send one row per outcome and reason")
        seen.add((outcome, reason))
        checked.append({"outcome": outcome, "reason": reason,
                        "cases": _count(row["cases"], f"{at}: cases"),
                        **{a: str(_amount(row[a], f"{at}: {a}")) for a in AMOUNTS}})
    return checked


def _parse(node_id: str, report_json: bytes) -> dict[str, Any]:
    """The report checked on its own (shape, types, sums); raises BAD_REPORT."""
    if len(report_json) > MAX_REPORT_BYTES:
        raise _bad(f"node {node_id}'s verification report has {len(report_json):,} bytes, "
                   f"more than the {MAX_REPORT_BYTES:,} that outcome aggregates need")
    try:
        report = json.loads(report_json)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(f"node {node_id}'s verification report is not JSON: {exc}") from None
    if not isinstance(report, dict) or set(report) != _REPORT_KEYS:
        keys = sorted(report) if isinstance(report, dict) else type(report).__name__
        raise _bad(f"node {node_id}'s verification report must be an object with exactly "
                   f"{', '.join(sorted(_REPORT_KEYS))}, not {keys}")
    task_id = report["task_id"]
    if not isinstance(task_id, str) or not task_id:
        raise _bad(f"node {node_id}'s verification report names no task (task_id)")
    if report["node_id"] != node_id:
        raise _bad(f"a verification report of node {report['node_id']!r} came from node "
                   f"{node_id}; a node reports its own cases only")
    where = f"node {node_id}'s verification report of task {task_id}"
    leads = _count(report["leads"], f"{where}: leads")
    cases = _count(report["cases"], f"{where}: cases")
    rows = _rows(report["rows"], where)
    if cases > leads:
        raise _bad(f"{where} counts {cases} cases from {leads} leads; a lead opens at most "
                   "one case")
    if sum(r["cases"] for r in rows) != cases:
        raise _bad(f"{where}: its rows add up to {sum(r['cases'] for r in rows)} cases, "
                   f"not the {cases} it reports")
    reported_at = report["reported_at"]
    try:
        if not isinstance(reported_at, str) or len(reported_at) > 40:
            raise ValueError(reported_at)
        dt.datetime.fromisoformat(reported_at)
    except ValueError:
        raise _bad(f"{where}: reported_at must be an ISO 8601 time, not "
                   f"{reported_at!r}") from None
    return {"task_id": task_id, "node_id": node_id, "leads": leads, "cases": cases,
            "rows": rows, "reported_at": reported_at}


def record_verification(store, node_id: str, report_json: bytes, *,
                        now: int | None = None) -> None:
    """Checks a node's verification report (JSON bytes) and stores it in place of its last.

    ``store`` is the coordinator's TaskStore and ``node_id`` the node the report came
    from (its certificate's id). The report is the contract's JSON: task_id, node_id,
    leads, cases, rows (one per outcome and reason: outcome, reason, cases,
    amount_at_stake, confirmed_amount, recovered_amount) and reported_at. Raises
    CoordinatorError "NOT_FOUND" for an unknown task, and "BAD_REPORT" when the report is
    not well formed (unknown fields, negative or non-integer counts, amounts that are not
    decimal strings, unknown outcomes or reasons, rows that do not add up), names another
    node, or comes from a node that is not a target of a linkage task or did not answer it.
    """
    report = _parse(node_id, report_json)
    task_id = report["task_id"]
    record = store.task(task_id)
    if record is None:
        raise CoordinatorError(f"no task {task_id} in this coordinator; node {node_id} "
                               "reports cases of a task it does not know", "NOT_FOUND")
    if record.output_kind != "flags":
        raise _bad(f"task {task_id} ({record.analysis}) is not a linkage task: it has no "
                   "leads to verify")
    try:
        state = record.delivery(node_id).state
    except KeyError:
        raise _bad(f"node {node_id} is not a target of task {task_id}, so it has no leads "
                   "of it to verify") from None
    if state != "done":
        raise _bad(f"node {node_id}'s delivery of task {task_id} is {state}, not done: only "
                   "a node that answered the task receives leads to verify")
    store.put_verification(task_id, node_id, report, report["reported_at"], now=now)


# -- the summary --------------------------------------------------------------------------


def _cents(amount: Decimal) -> str:
    return str(amount.quantize(_CENT, ROUND_HALF_UP))


def _precision(confirmed: int, partly: int, resolved: int) -> float | None:
    """(confirmed + partly) / resolved, to four decimals; None when nothing is resolved."""
    return round((confirmed + partly) / resolved, 4) if resolved else None


def _tally(report: Mapping[str, Any]) -> dict[str, Any]:
    """Case counts and amounts of one node's report."""
    by_outcome = dict.fromkeys(OUTCOMES, 0)
    by_reason = dict.fromkeys(REASONS, 0)
    money = dict.fromkeys(AMOUNTS, Decimal(0))
    for row in report["rows"]:
        by_outcome[row["outcome"]] += row["cases"]
        if row["outcome"] == "excluded":
            by_reason[row["reason"]] += row["cases"]
        for name in AMOUNTS:
            money[name] += Decimal(row[name])
    return {"cases": report["cases"], **by_outcome, "excluded_by_reason": by_reason,
            **money}


def _entry(node_id: str, level: str | None, linked: Mapping | None, tally: dict | None,
           reported_at: str | None) -> dict[str, Any]:
    """One node's line of the summary; counts are None when it has not reported."""
    entry: dict[str, Any] = {
        "node_id": node_id, "level": level,
        "tokens_submitted": linked.get("tokens_submitted") if linked else None,
        "leads": linked.get("matched") if linked else None,
        "reported": tally is not None, "reported_at": reported_at,
    }
    if tally is None:
        entry.update(status="not_reported", **dict.fromkeys(
            ("cases", *OUTCOMES, "resolved", "excluded_by_reason", *AMOUNTS, "precision")))
        return entry
    resolved = tally["cases"] - tally["open"]
    entry.update(
        status="verified" if resolved == tally["cases"] else "verifying",
        cases=tally["cases"], **{o: tally[o] for o in OUTCOMES}, resolved=resolved,
        excluded_by_reason=dict(tally["excluded_by_reason"]),
        **{a: _cents(tally[a]) for a in AMOUNTS},
        precision=_precision(tally["confirmed"], tally["partly"], resolved))
    return entry


def _national(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The national line: leads of every node, outcomes of the nodes that reported."""
    reported = [e for e in entries if e["reported"]]
    known = [e["leads"] for e in entries if e["leads"] is not None]
    total: dict[str, Any] = {
        "node_id": "national", "nodes": len(entries), "nodes_reported": len(reported),
        "leads": sum(known) if known else None,
        "reported_at": max((e["reported_at"] for e in reported), default=None)}
    if not reported:
        total.update(status="not_reported", **dict.fromkeys(
            ("cases", *OUTCOMES, "resolved", "excluded_by_reason", *AMOUNTS, "precision")))
        return total
    counts = {k: sum(e[k] for e in reported) for k in ("cases", *OUTCOMES, "resolved")}
    done = len(reported) == len(entries) and counts["resolved"] == counts["cases"]
    total.update(
        status="verified" if done else "verifying", **counts,
        excluded_by_reason={r: sum(e["excluded_by_reason"][r] for e in reported)
                            for r in REASONS},
        **{a: _cents(sum((Decimal(e[a]) for e in reported), Decimal(0))) for a in AMOUNTS},
        precision=_precision(counts["confirmed"], counts["partly"], counts["resolved"]))
    return total


def _linked_nodes(record, linkage: Mapping) -> dict[str, Mapping]:
    """Node id -> its line of the provenance's linkage summary, for nodes that get leads."""
    registry_gets_none = linkage.get("pattern", "registry_attributes") == "registry_attributes"
    nodes = {}
    for node in linkage.get("nodes") or ():
        if registry_gets_none and node.get("level") == _REGISTRY_LEVEL:
            continue
        nodes[str(node["node_id"])] = node
    return nodes


def verification_summary(store, task_id: str) -> dict[str, Any]:
    """HQ's view of a linkage task's verification: per node and national, as a JSON dict.

    Keys: task_id, task_state, pattern, model (id, version, title_zh, title_en), nodes and
    national. Each node line has node_id, level, tokens_submitted, leads (the node's
    matched tokens, from the result's provenance), reported, reported_at, status
    (not_reported, verifying or verified), cases, open, resolved, confirmed, partly,
    excluded, excluded_by_reason (reason -> cases), amount_at_stake, confirmed_amount and
    recovered_amount (decimal strings of yuan) and precision ((confirmed + partly) /
    resolved, None when nothing is resolved); a node that never reported has None
    counts. The national line adds up the nodes that reported (nodes, nodes_reported).
    Registry nodes of the registry_attributes pattern receive no leads and are left out.
    A task still running has no leads yet: its summary lists only nodes that reported.

    Raises CoordinatorError "NOT_FOUND" for an unknown task and "INVALID_REQUEST" for a
    task whose model links no records (or that failed before any lead went back).
    """
    record = store.task(task_id)
    if record is None:
        raise CoordinatorError(f"no task {task_id} in this coordinator; list the tasks with "
                               "`fedaudit results list`", "NOT_FOUND")
    provenance = record.provenance or {}
    linkage = provenance.get("linkage")
    if not isinstance(linkage, Mapping):
        if record.output_kind != "flags" or record.state == "failed":
            why = (f"failed before any lead went back to the nodes ({record.message})"
                   if record.output_kind == "flags" else "links no records across nodes")
            raise CoordinatorError(
                f"task {task_id} ({record.analysis}) {why}, so there is nothing to verify; "
                f"read its result with `fedaudit results findings {task_id}`",
                "INVALID_REQUEST")
        if not record.open:
            raise CoordinatorError(
                f"task {task_id} ({record.analysis}) has no linkage summary in its result, "
                f"so there is nothing to verify; read it with `fedaudit results findings "
                f"{task_id}`", "INVALID_REQUEST")
        linkage = {}
    linked = _linked_nodes(record, linkage)
    reports = {r.node_id: r for r in store.verifications(task_id)}
    levels = {n: node.get("level") for n, node in linked.items()}
    entries = [
        _entry(node_id, levels.get(node_id), linked.get(node_id),
               _tally(reports[node_id].report) if node_id in reports else None,
               reports[node_id].reported_at if node_id in reports else None)
        for node_id in sorted(set(linked) | set(reports))]
    for entry in entries:  # a node's own count stands in when the provenance has none
        if entry["leads"] is None and entry["reported"]:
            entry["leads"] = reports[entry["node_id"]].report["leads"]
    analysis = provenance.get("analysis") or {}
    return {
        "task_id": task_id, "task_state": record.state, "pattern": linkage.get("pattern"),
        "model": {"id": analysis.get("id", record.analysis_id),
                  "version": analysis.get("version", record.analysis_version),
                  "title_zh": analysis.get("title_zh", ""),
                  "title_en": analysis.get("title_en", "")},
        "nodes": entries, "national": _national(entries)}


# -- wording ------------------------------------------------------------------------------


def node_label(node_id: str, places: Mapping[str, NodePlace]) -> str:
    """A province node as 广东省 (gd); any other node as its id."""
    place = places.get(node_id)
    if place is not None and place.level == "province" and place.region.endswith("0000"):
        return f"{region_name(place.region)[0]} ({node_id})"
    return node_id


def amount_text(yuan: str | None) -> str:
    """Decimal yuan as 万元 and yuan, e.g. "12.35 (123,456.00)"; "-" for None."""
    if yuan is None:
        return "-"
    amount = Decimal(yuan)
    wan = (amount / 10000).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{wan:,} ({amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,})"


def percent(precision: float | None) -> str:
    """A precision (0 to 1) as a percentage with one decimal; "-" when nothing is resolved."""
    return "-" if precision is None else f"{precision * 100:.1f}%"


# -- finding lines ------------------------------------------------------------------------


def _progress(entry: Mapping[str, Any]) -> Progress | str:
    if entry["status"] == "not_reported":
        return "pending"
    return Progress(entry["status"], entry["cases"], entry["resolved"], entry["confirmed"],
                    entry["partly"])


def line_progress(summary: Mapping[str, Any], places: Mapping[str, NodePlace] | None = None
                  ) -> dict[str, Progress | str]:
    """The `verification` argument of `findings.build_findings` from a summary.

    Maps each node id, the region code of each province node in ``places`` (node id ->
    `findings.NodePlace`, for results split by region) and "national" to "pending" (not
    reported) or a `Progress` with the case counts.
    """
    places = places or {}
    out: dict[str, Progress | str] = {}
    for entry in summary.get("nodes") or ():
        progress = _progress(entry)
        out[entry["node_id"]] = progress
        place = places.get(entry["node_id"])
        if place is not None and place.level == "province" and place.region.endswith("0000"):
            out[place.region] = progress
    if summary.get("national"):
        out["national"] = _progress(summary["national"])
    return out


def findings_of(table: pa.Table | None, provenance: Mapping, model, places,
                summary: Mapping[str, Any] | None):
    """(findings, the table they were written from) of a result, with its verification.

    Without a verification summary, or for a presence model (no cases):
    `findings.build_findings` of the result table. With one (a linkage result): the
    findings of `findings_table(summary)`, each line with its
    verification progress.
    """
    from coordinator.findings import build_findings

    if model is not None and model.linkage is not None and not model.linkage.resolves:
        summary = None  # a presence result opens no case: its table says it all
    if not summary:
        return build_findings(table, provenance, model, places), table
    shown = findings_table(summary)
    return build_findings(shown, provenance, model, places,
                          verification=line_progress(summary, places)), shown


def findings_table(summary: Mapping[str, Any]) -> pa.Table:
    """The per-node table findings are written from for a flags result.

    A flags result holds no counts HQ can read (only the join's leads); the nodes'
    verification reports do. One row per receiving node: node_id, persons (the cases the
    node opened, or its leads until it reports) and amount (the amount at stake of those
    cases, NULL until it reports).
    """
    nodes = list(summary.get("nodes") or ())
    persons = [n["cases"] if n.get("reported") else n.get("leads") for n in nodes]
    amounts = [Decimal(n["amount_at_stake"]) if n.get("reported") and n.get("amount_at_stake")
               is not None else None for n in nodes]
    return pa.table({
        "node_id": pa.array([n["node_id"] for n in nodes], pa.string()),
        "persons": pa.array(persons, pa.int64()),
        "amount": pa.array(amounts, pa.decimal128(18, 2)),
    })
