"""The evaluation report as text for people: one table line per model, then the notes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analyses.evaluate._truth import MIN_PRECISION

__all__ = ["format_report", "number_text"]

_HEADER = ("model", "kind", "recall", "precision", "look-alikes", "seconds", "check")


def number_text(value: float | None) -> str:
    """A recall or precision with three decimals; "-" when it is undefined."""
    return "-" if value is None else f"{value:.3f}"


def _lookalikes(entry: Mapping[str, Any]) -> str:
    if entry["lookalikes_flagged"] is None:
        return "-"
    return f"{entry['lookalikes_flagged']} of {entry['lookalikes']}"


def _row(entry: Mapping[str, Any]) -> tuple[str, ...]:
    seconds = "-" if entry["seconds"] is None else f"{entry['seconds']:.1f}"
    return (f"{entry['id']} ({entry['method_code']})", entry["kind"],
            number_text(entry["recall"]), number_text(entry["precision"]),
            _lookalikes(entry), seconds, entry["check"])


def format_report(report: Mapping[str, Any]) -> str:
    """The report of `evaluate_federation` as a table, the notes per model and a verdict."""
    rows = [_HEADER, *(_row(e) for e in report["models"])]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER) - 1)]
    right = {2, 3, 4, 5}  # numbers line up on the right

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.rjust(w) if i in right else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=False))]
        return "  ".join([*cells, row[-1]]).rstrip()

    out = [f"Evaluation of {report['federation']} (data as of {report['as_of']})", "",
           line(rows[0]), *(line(r) for r in rows[1:])]
    noted = [e for e in report["models"] if e["notes"]]
    if noted:
        out += ["", "Notes:"]
        for entry in noted:
            out += [f"  {entry['id']}: {note}" for note in entry["notes"]]
    failed = [e["id"] for e in report["models"] if e["ok"] is False]
    out.append("")
    if failed:
        out.append(f"FAIL: {', '.join(failed)} (flag models need recall 1.000 and precision "
                   f">= {MIN_PRECISION:.2f}; a failed task fails too)")
    else:
        out.append(f"ok: every flag model measured has recall 1.000 and precision >= "
                   f"{MIN_PRECISION:.2f}")
    return "\n".join(out)
