"""`fedaudit analyses evaluate`: help, clear errors, and real runs over a small federation."""

from __future__ import annotations

import csv
import json
import re
import shutil

import click
import pytest
from click.testing import CliRunner

from analyses.cli import analyses
from analyses.synth import generate_federation
from fedaudit.cli import main
from tests.model_support import truth

FLAGS, AGGREGATE = "pension.paid_after_death", "fund.benefit_summary"
#: Three provinces (pensions are drawn in two of them), small scale, fixed seed.
FEDERATION = {"provinces": 3, "scale": 1e-6, "seed": 13}


def evaluate(*args):
    return CliRunner().invoke(main, ["analyses", "evaluate", *map(str, args)])


def squeeze(text: str) -> str:
    return "".join(text.split())


def test_the_command_and_every_option_have_help():
    command = analyses.commands["evaluate"]
    result = CliRunner().invoke(analyses, ["evaluate", "--help"])
    assert result.exit_code == 0
    shown = squeeze(result.output)
    assert squeeze(command.help.split("\n\n")[0]) in shown
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help and squeeze(param.help) in shown, param.opts


@pytest.fixture
def fake_federation(tmp_path):
    """The files evaluate reads before it starts anything."""
    (tmp_path / "truth").mkdir()
    (tmp_path / "federation.toml").write_text("# data as of 2025-12-31\nname = \"x\"\n")
    return tmp_path


def test_a_folder_that_is_no_federation_is_refused(tmp_path):
    result = evaluate("--federation", tmp_path)
    assert result.exit_code == 1
    assert "has no federation.toml, so it is not a synthetic federation" in result.stderr
    assert "fedaudit synth federation" in result.stderr


def test_an_unknown_model_is_refused_with_the_known_ones(fake_federation):
    result = evaluate("--federation", fake_federation, "--models", f"{FLAGS},no.such_model")
    assert result.exit_code == 1
    assert "no model 'no.such_model' in the library" in result.stderr
    assert FLAGS in result.stderr


def test_a_work_folder_in_use_is_refused(fake_federation, tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    (work / "something").write_text("mine")
    result = evaluate("--federation", fake_federation, "--work", work)
    assert result.exit_code == 1
    assert "is not an empty folder" in result.stderr
    assert (work / "something").read_text() == "mine"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return generate_federation(tmp_path_factory.mktemp("evaluate") / "fed", **FEDERATION).out


def truth_counts(folder, code: str) -> tuple[int, int]:
    """(anomaly subjects, look-alike subjects) of a truth file, counted here directly."""
    anomalies = set(truth(folder, code, "anomaly"))
    return len(anomalies), len(set(truth(folder, code, "lookalike")) - anomalies)


@pytest.mark.slow
def test_evaluate_prints_recall_precision_and_the_aggregate_check(world, tmp_path):
    anomalies, lookalikes = truth_counts(world, "PEN-01")
    assert anomalies >= 3
    result = evaluate("--federation", world, "--models", f"{FLAGS},{AGGREGATE}",
                      "--work", tmp_path / "work")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    flags = next(line for line in lines if line.startswith(f"{FLAGS} (PEN-01)"))
    assert re.search(rf"\bflags\s+1\.000\s+1\.000\s+0 of {lookalikes}\s+\d+\.\d\s+"
                     rf"{anomalies} of {anomalies} found, {anomalies} flagged$", flags), flags
    aggregate = next(line for line in lines if line.startswith(f"{AGGREGATE} (FUND-00)"))
    assert re.search(r"\baggregate\s+-\s+-\s+-\s+\d+\.\d\s+(equal|lower bound)$", aggregate)
    assert lines[-1].startswith("ok: every flag model measured has recall 1.000")
    assert "provisioned 7 nodes" in result.stderr  # progress goes to stderr
    assert "stopped the coordinator and every node" in result.stderr
    assert (tmp_path / "work" / "homes" / "gd" / "cases.sqlite").is_file()  # --work is kept


@pytest.mark.slow
def test_an_anomaly_the_model_misses_fails_the_evaluation(world, tmp_path):
    copy = tmp_path / "fed"
    shutil.copytree(world, copy)
    anomalies, _ = truth_counts(world, "PEN-01")
    with open(copy / "truth" / "PEN-01.csv", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    row = dict.fromkeys(header, "") | {"node_id": "gd", "id_no": "440103199001011234",
                                       "label": "anomaly", "reason": "PAID_AFTER_DEATH"}
    with open(copy / "truth" / "PEN-01.csv", "a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, header, lineterminator="\n").writerow(row)
    result = evaluate("--federation", copy, "--models", FLAGS, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["work"] is None
    [entry] = report["models"]
    assert (entry["anomalies"], entry["found"], entry["flagged"]) == (anomalies + 1, anomalies,
                                                                      anomalies)
    assert entry["recall"] == round(anomalies / (anomalies + 1), 4)
    assert (entry["precision"], entry["lookalikes_flagged"], entry["ok"]) == (1.0, 0, False)
    assert entry["state"] == "complete" and isinstance(entry["seconds"], float)


@pytest.mark.slow
def test_an_aggregate_built_on_a_presence_task_equals_the_union(world):
    """SA-03 counts a recipient enrolled only in another province as enrolled: evaluate runs
    assistance.enrolled_elsewhere first (added although not asked for), names its task in
    enrolment_task, and the released cells equal the same SQL over the union of the data."""
    with open(world / "truth" / "SA-03.csv", encoding="utf-8") as handle:
        elsewhere = sum(int(r["persons"]) for r in csv.DictReader(handle)
                        if r["reason"] == "ENROLLED_ELSEWHERE")
    assert elsewhere >= 1, "the federation should plant recipients enrolled elsewhere"
    result = evaluate("--federation", world, "--models", "assistance.not_enrolled", "--json")
    assert result.exit_code == 0, result.output
    presence, aggregate = json.loads(result.stdout)["models"]
    assert presence["id"] == "assistance.enrolled_elsewhere"
    assert presence["state"] == "complete" and presence["check"] == "not measured"
    assert aggregate["id"] == "assistance.not_enrolled" and aggregate["state"] == "complete"
    assert aggregate["check"] in ("equal", "lower bound"), aggregate
    assert any(n.startswith("builds on task") for n in aggregate["notes"])
    released = [t for t in aggregate["totals"] if t["column"] == "not_enrolled"]
    assert released and all(t.get("released_equal", t["equal"]) for t in released), released
