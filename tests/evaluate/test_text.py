"""The evaluation report as text: a line per model, the notes, and the verdict."""

from __future__ import annotations

from analyses.evaluate import format_report


def entry(**changes):
    base = {"id": "pension.paid_after_death", "method_code": "PEN-01", "kind": "flags",
            "seconds": 1.25, "check": "9 of 9 found, 9 flagged", "recall": 1.0,
            "precision": 1.0, "lookalikes": 68, "lookalikes_flagged": 0, "notes": [],
            "ok": True}
    return base | changes


def report(*entries):
    return {"federation": "/data/fed", "as_of": "2025-12-31", "models": list(entries)}


def test_a_passing_report():
    text = format_report(report(
        entry(),
        entry(id="fund.benefit_summary", method_code="FUND-00", kind="aggregate",
              check="equal", recall=None, precision=None, lookalikes=None,
              lookalikes_flagged=None, ok=None)))
    lines = text.splitlines()
    assert lines[0] == "Evaluation of /data/fed (data as of 2025-12-31)"
    assert lines[2].split() == ["model", "kind", "recall", "precision", "look-alikes",
                                "seconds", "check"]
    assert lines[3].split() == ["pension.paid_after_death", "(PEN-01)", "flags", "1.000",
                                "1.000", "0", "of", "68", "1.2", "9", "of", "9", "found,", "9",
                                "flagged"]
    assert lines[4].split() == ["fund.benefit_summary", "(FUND-00)", "aggregate", "-", "-",
                                "-", "1.2", "equal"]
    assert "Notes:" not in text
    assert lines[-1].startswith("ok: every flag model measured has recall 1.000")


def test_a_failing_report_names_the_models_and_their_notes():
    text = format_report(report(
        entry(recall=0.6667, ok=False, check="6 of 9 found, 6 flagged",
              notes=["UNE-01.csv is shared with another model"]),
        entry(id="medical.split_hospitalisation", method_code="MED-04", check="error",
              seconds=None, recall=None, precision=None, lookalikes=None,
              lookalikes_flagged=None, ok=False, notes=["the task failed: boom"])))
    assert "0.667" in text
    assert "  pension.paid_after_death: UNE-01.csv is shared with another model" in text
    assert "  medical.split_hospitalisation: the task failed: boom" in text
    assert text.splitlines()[-1].startswith(
        "FAIL: pension.paid_after_death, medical.split_hospitalisation")
