"""Reading a synthetic federation's ground truth and scoring flagged subjects against it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from analyses import load_library
from analyses.evaluate import (
    MIN_PRECISION,
    EvaluateError,
    Truth,
    data_as_of,
    declared_reasons,
    read_truth,
    score_flags,
    truth_path,
)
from analyses.evaluate._truth import subject_key
from analyses.synth import generate_federation
from node.idno import check_char

#: Valid ID numbers (GB 11643 check characters computed, not copied).
A = "44010319800101123" + check_char("44010319800101123")
B = "44010319750505432" + check_char("44010319750505432")
C = "37010219620909111" + check_char("37010219620909111")
LEGACY = "440103800101123"  # 15 digits: upgrades to A
HEADER = "node_id,id_no,amount,label,reason\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def truth_file(tmp_path):
    return write(tmp_path / "UNE-01.csv", HEADER + "".join([
        f"gd,{A},10.00,anomaly,EMPLOYED\n",
        f"gd,{A},20.00,anomaly,DECEASED\n",  # one subject, two reasons
        f"gd,{B},5.00,anomaly,RECEIVING_PENSION\n",
        f"sd,{C},7.00,lookalike,FLEXIBLE_EMPLOYMENT\n",
        f"gd,{B},1.00,lookalike,FINAL_MONTH_CONTRIBUTION\n",  # also an anomaly: not a look-alike
    ]))


def test_a_15_digit_id_matches_its_18_digit_form():
    assert subject_key(LEGACY, "id_no") == A
    assert subject_key(f" {A[:-1]}x ".replace("x", A[-1].lower()), "id_no") == A
    assert subject_key("not an id", "id_no") == "NOT AN ID"
    assert subject_key(" SA440103001 ", "case_id") == "SA440103001"


def test_read_truth_groups_rows_by_subject_with_their_reasons(truth_file):
    truth = read_truth(truth_file)
    assert truth.key == "id_no"
    assert truth.anomalies == {("gd", A): frozenset({"EMPLOYED", "DECEASED"}),
                               ("gd", B): frozenset({"RECEIVING_PENSION"})}
    assert truth.lookalikes == {("sd", C)}
    assert truth.reasons == ("DECEASED", "EMPLOYED", "RECEIVING_PENSION")
    assert truth.anomalies_for({"DECEASED"}) == {("gd", A)}
    assert truth.anomalies_for(()) == set()


def test_read_truth_keys_assistance_cases_by_case_id(tmp_path):
    path = write(tmp_path / "SA-01.csv", "node_id,case_id,cars,label,reason\n"
                 "gd,SA1,1,anomaly,CAR\ngd,SA2,0,lookalike,EXEMPT_VEHICLE\n")
    truth = read_truth(path)
    assert truth.key == "case_id"
    assert set(truth.anomalies) == {("gd", "SA1")} and truth.lookalikes == {("gd", "SA2")}


@pytest.mark.parametrize("text, message", [
    ("node_id,amount,label,reason\ngd,1,anomaly,X\n", "id_no or case_id"),
    ("node_id,id_no,amount\ngd,1,2\n", "label, reason"),
    (HEADER + f"gd,{A},1,suspect,X\n", "line 2: label 'suspect'"),
    ("", "no column node_id"),
])
def test_read_truth_refuses_what_is_not_a_truth_file(tmp_path, text, message):
    with pytest.raises(EvaluateError, match=message):
        read_truth(write(tmp_path / "X-01.csv", text))


def test_truth_path_falls_back_from_a_variant_code_to_its_base(tmp_path):
    write(tmp_path / "MED-02.csv", HEADER)
    assert truth_path(tmp_path, "MED-02") == tmp_path / "MED-02.csv"
    assert truth_path(tmp_path, "MED-02b") == tmp_path / "MED-02.csv"
    assert truth_path(tmp_path, "PEN-06") is None


def test_scores(truth_file):
    truth = read_truth(truth_file)
    perfect = score_flags({("gd", A), ("gd", B)}, truth)
    assert (perfect.recall, perfect.precision, perfect.lookalikes_flagged) == (1.0, 1.0, 0)
    assert perfect.passed
    # A look-alike and a subject the truth does not know are false flags.
    noisy = score_flags({("gd", A), ("gd", B), ("sd", C), ("ha", A)}, truth)
    assert (noisy.found, noisy.flagged, noisy.true_flags) == (2, 4, 2)
    assert (noisy.recall, noisy.precision, noisy.lookalikes_flagged) == (1.0, 0.5, 1)
    assert not noisy.passed
    # The same ID at another node is another subject.
    missed = score_flags({("sd", A)}, truth)
    assert (missed.recall, missed.precision) == (0.0, 0.0)


def test_recall_counts_only_the_declared_reasons_precision_every_anomaly(truth_file):
    truth = read_truth(truth_file)
    part = score_flags({("gd", B)}, truth, reasons=["RECEIVING_PENSION"])
    assert (part.anomalies, part.recall, part.precision) == (1, 1.0, 1.0)
    # A subject of another reason of the file is still a true anomaly.
    other = score_flags({("gd", A)}, truth, reasons=["RECEIVING_PENSION"])
    assert (other.recall, other.precision) == (0.0, 1.0)
    nothing = score_flags(set(), truth, reasons=())
    assert (nothing.recall, nothing.precision, nothing.passed) == (None, None, True)


@pytest.mark.parametrize("anomalies, passed", [(19, True), (18, False)])
def test_a_model_passes_from_precision_095_with_full_recall(anomalies, passed):
    subjects = {("gd", f"S{i}"): frozenset({"R"}) for i in range(anomalies)}
    truth = Truth(Path("T-01.csv"), "case_id", subjects, frozenset())
    score = score_flags({*subjects, ("gd", "unknown")}, truth)
    assert score.recall == 1.0
    assert (score.precision >= MIN_PRECISION) is passed
    assert score.passed is passed
    assert not score_flags(set(list(subjects)[1:]), truth).passed  # recall below 1.0


def model_with_notes(notes: str):
    model = load_library().get("fund.benefit_summary")
    return dataclasses.replace(model, notes=notes)


@pytest.mark.parametrize("notes, code, expected", [
    ("Ground truth: UNE-01 reasons EMPLOYED, RECEIVING_PENSION.", "UNE-01",
     ("EMPLOYED", "RECEIVING_PENSION")),
    ("Together with another model ... ground truth: UNE-01 reason DECEASED. More text.",
     "UNE-01", ("DECEASED",)),
    ("Ground truth: UNE-01 reasons EMPLOYED and\n    RECEIVING_PENSION", "UNE-01",
     ("EMPLOYED", "RECEIVING_PENSION")),
    ("Ground truth: MED-02 reasons none (cross-province overlaps only).", "MED-02", ()),
    ("Ground truth: UNE-01 reasons EMPLOYED.", "MED-02", None),
    ("Covers EMPLOYED and RECEIVING_PENSION of UNE-01.", "UNE-01", None),
    ("", "UNE-01", None),
])
def test_declared_reasons(notes, code, expected):
    assert declared_reasons(model_with_notes(notes), code) == expected


def test_data_as_of_reads_the_header_of_a_generated_federation(tmp_path):
    world = generate_federation(tmp_path / "fed", provinces=1, scale=1e-6, seed=3,
                                end="2024-06")
    assert data_as_of(world.out) == dt.date(2024, 6, 30)


def test_data_as_of_falls_back_to_the_truth_readme_then_fails_clearly(tmp_path):
    write(tmp_path / "federation.toml", 'name = "x"  # data as of 2020-01-31 is not a comment\n')
    with pytest.raises(EvaluateError, match="does not say its data-as-of date"):
        data_as_of(tmp_path)
    (tmp_path / "truth").mkdir()
    write(tmp_path / "truth" / "README.md", "Planted with data as of 2025-03-31.\n")
    assert data_as_of(tmp_path) == dt.date(2025, 3, 31)
