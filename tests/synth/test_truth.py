"""The truth files match what was planted: each model's rule, recomputed with DuckDB from
the CSV files, returns exactly the anomaly rows, and never a look-alike."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from tests.synth.rules import RULES, connect, rows


@pytest.fixture(scope="module")
def con(small_federation):
    connection = connect(small_federation)
    yield connection
    connection.close()


def _truth(out, model: str) -> list[dict]:
    with (out / "truth" / f"{model}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _keys(truth: list[dict], columns, label: str, width: int | None = None) -> set[tuple]:
    return {tuple(r[c] for c in columns)[:width] for r in truth if r["label"] == label}


@pytest.mark.parametrize("model", sorted(RULES))
def test_rule_returns_exactly_the_anomalies(small_federation, con, model):
    columns, rule, _ = RULES[model]
    truth = _truth(small_federation, model)
    expected = _keys(truth, columns, "anomaly")
    assert expected, f"{model}: nothing was planted"
    assert rows(con, rule) == expected


@pytest.mark.parametrize("model", sorted(set(RULES) - {"SA-03"}))
def test_lookalikes_fool_the_naive_rule_only(small_federation, con, model):
    columns, _, naive = RULES[model]
    truth = _truth(small_federation, model)
    flagged = rows(con, naive)
    width = len(next(iter(flagged)))
    lookalikes = _keys(truth, columns, "lookalike", width)
    assert lookalikes, f"{model}: no look-alikes were planted"
    assert lookalikes <= flagged  # a naive rule would report every look-alike ...
    assert not lookalikes & _keys(truth, columns, "anomaly", width)  # ... the rule none


def test_sa03_lookalikes_are_students_and_persons_enrolled_elsewhere(small_federation, con):
    columns, _, lookalike_sql = RULES["SA-03"]
    truth = _truth(small_federation, "SA-03")
    assert rows(con, lookalike_sql) == _keys(truth, columns, "lookalike")
    assert {r["reason"] for r in truth if r["label"] == "lookalike"} == {
        "STUDENT", "ENROLLED_ELSEWHERE"}


PER_PERSON = ("PEN-01", "PEN-03", "PEN-04", "PEN-05", "PEN-06", "MED-01", "MED-02", "MED-04",
              "UNE-01", "SA-01")


@pytest.mark.parametrize("model", PER_PERSON)
def test_every_province_has_three_planted_cases(small_federation, model):
    per_node = Counter(r["node_id"] for r in _truth(small_federation, model)
                       if r["label"] == "anomaly")
    assert set(per_node) == {"gd", "sd", "ha"}
    assert min(per_node.values()) >= 3


def test_every_province_has_outlier_institutions_and_unenrolled_persons(small_federation):
    outliers = {(r["node_id"], r["fixmedins_code"]) for r in _truth(small_federation, "MED-08")
                if r["label"] == "anomaly"}
    assert Counter(node for node, _ in outliers) == {"gd": 3, "sd": 3, "ha": 3}
    missing = Counter()
    for r in _truth(small_federation, "SA-03"):
        if r["label"] == "anomaly":
            missing[r["node_id"]] += int(r["persons"])
    assert min(missing[n] for n in ("gd", "sd", "ha")) >= 3


def test_truth_files_have_a_label_and_a_readme(small_federation):
    truth = small_federation / "truth"
    assert sorted(p.stem for p in truth.glob("*.csv")) == sorted(
        ["PEN-01", "PEN-03", "PEN-04", "PEN-05", "PEN-06", "MED-01", "MED-02", "MED-04",
         "MED-08", "UNE-01", "SA-01", "SA-03"])
    readme = (truth / "README.md").read_text(encoding="utf-8")
    for path in truth.glob("*.csv"):
        assert f"## {path.stem}.csv" in readme
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header[-2:] == ["label", "reason"]
        assert {r["label"] for r in _truth(small_federation, path.stem)} <= {
            "anomaly", "lookalike"}


@pytest.mark.slow
def test_default_federation_truth_matches_the_rules(tmp_path):
    """The demo federation (four provinces at 1:20,000, ~20,000 persons) is as right as
    the small one: every rule returns exactly its anomalies and no look-alike."""
    from analyses.synth import generate_federation

    out = tmp_path / "fed"
    summary = generate_federation(out, seed=3)
    assert summary.persons == {"gd": 6_301, "sd": 5_076, "ha": 4_968, "js": 4_237}
    connection = connect(out)
    for model, (columns, rule, naive) in RULES.items():
        truth = _truth(out, model)
        assert rows(connection, rule) == _keys(truth, columns, "anomaly"), model
        flagged = rows(connection, naive)
        if model == "SA-03":
            assert flagged == _keys(truth, columns, "lookalike")
            continue
        width = len(next(iter(flagged)))
        assert _keys(truth, columns, "lookalike", width) <= flagged, model
