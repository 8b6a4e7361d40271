"""`fedaudit synth federation`: help, progress, options, and an output folder in the way."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from analyses.synth import SynthError
from analyses.synth.cli import synth

TINY = ["--provinces", "1", "--scale", "0.000001", "--start", "2024-01", "--end", "2024-12"]


def _run(*args):
    return CliRunner().invoke(synth, list(args))


def test_every_command_and_option_has_help():
    for args in ([], ["federation"]):
        result = _run(*args, "--help")
        assert result.exit_code == 0
    text = _run("federation", "--help").output
    for option in ("--provinces", "--scale", "--seed", "--out", "--start", "--end", "--force"):
        assert option in text
    assert "1:20,000" in text


def test_writes_a_federation_and_reports_progress_per_node(tmp_path):
    result = _run("federation", *TINY, "--out", str(tmp_path / "fed"))
    assert result.exit_code == 0, result.output
    for node in ("gd", "deaths", "vehicles", "realestate", "business"):
        assert f"{node}" in result.stderr
    assert "1,000 persons" in result.stderr
    assert "Wrote 5 nodes" in result.stdout
    assert (tmp_path / "fed" / "gd" / "benefit_payment.csv").is_file()


def test_refuses_a_non_empty_folder_without_force(tmp_path):
    out = tmp_path / "fed"
    assert _run("federation", *TINY, "--out", str(out)).exit_code == 0
    before = (out / "gd" / "insured_person.csv").read_bytes()
    result = _run("federation", *TINY, "--seed", "2", "--out", str(out))
    assert isinstance(result.exception, SynthError)
    assert "not empty" in str(result.exception) and "--force" in str(result.exception)
    assert (out / "gd" / "insured_person.csv").read_bytes() == before
    (out / "stale.txt").write_text("left over", encoding="utf-8")
    result = _run("federation", *TINY, "--seed", "2", "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert (out / "gd" / "insured_person.csv").read_bytes() != before
    assert not (out / "stale.txt").exists()


def test_force_never_deletes_a_folder_that_is_not_a_synthetic_federation(tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = _run("federation", *TINY, "--out", str(tmp_path), "--force")
    assert isinstance(result.exception, SynthError)
    assert "refusing" in str(result.exception)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("args, message", [
    (["--start", "2023-13"], "--start must be a month written YYYY-MM"),
    (["--start", "2024-01", "--end", "2024-06"], "shorter than 12 months"),
    (["--scale", "0"], "--scale must be above 0"),
])
def test_bad_options_say_what_to_do(tmp_path, args, message):
    result = _run("federation", "--out", str(tmp_path / "x"), *args)
    assert isinstance(result.exception, SynthError)
    assert message in str(result.exception)
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_out_of_range_province_count_is_a_usage_error(tmp_path):
    result = _run("federation", "--out", str(tmp_path), "--provinces", "32")
    assert result.exit_code == 2
    assert "--provinces" in result.output


def test_the_fedaudit_command_prints_errors_on_one_line(tmp_path):
    from fedaudit.cli import main

    if "synth" not in main.commands:
        pytest.skip("the lead has not registered `synth` under `fedaudit` yet")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(main, ["synth", "federation", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "not empty" in result.stderr
