"""The `analyses` commands: help everywhere, list, show and test in text and JSON."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from analyses import UnknownAnalysis, load_library
from analyses.cli import analyses
from tests.analyses.conftest import MODEL_ID
from tests.model_support import edit

COMMANDS = sorted(analyses.commands)


def squeeze(text: str) -> str:
    """Text without whitespace: click wraps help lines (even at hyphens)."""
    return "".join(text.split())


def run(*args: str):
    return CliRunner().invoke(analyses, list(args))


def test_the_group_has_its_commands():
    assert COMMANDS == ["evaluate", "list", "show", "test"]


def test_group_help():
    result = run("--help")
    assert result.exit_code == 0
    assert "The analysis library" in result.output
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_and_option_has_help(name):
    command = analyses.commands[name]
    assert command.help and command.help.strip()
    result = run(name, "--help")
    assert result.exit_code == 0
    shown = squeeze(result.output)
    assert squeeze(command.help.split("\n\n")[0]) in shown
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help"
            assert param.opts[0] in shown and squeeze(param.help) in shown


def test_list_text_and_json():
    text = run("list")
    assert text.exit_code == 0
    line = next(x for x in text.output.splitlines() if x.startswith(MODEL_ID))
    assert "1.2.1" in line and "aggregate" in line
    assert "养老金等待遇发放汇总" in line and "Benefit payments by scheme and month" in line
    listed = json.loads(run("list", "--json").output)
    entry = next(e for e in listed if e["id"] == MODEL_ID)
    assert entry["kind"] == "aggregate" and entry["title_zh"] == "养老金等待遇发放汇总"
    assert entry["digest"] == load_library().get(MODEL_ID).digest


def test_show_text_and_json():
    model = load_library().get(MODEL_ID)
    text = run("show", MODEL_ID)
    assert text.exit_code == 0
    for fragment in (f"digest: {model.digest}", "period_start: month; default 1990-01-01",
                     "max 2099-12-01", "rule: period_start <= period_end",
                     "persons BIGINT (count)", "province: benefit_payment", "legal basis:"):
        assert fragment in text.output
    shown = json.loads(run("show", MODEL_ID, "--json").output)
    assert shown["digest"] == model.digest and shown["method_code"] == "FUND-00"
    assert shown["parameters"][0] == {
        "name": "period_start", "type": "month", "required": False, "default": "1990-01-01",
        "min": "1990-01-01", "max": "2099-12-01",
        "description": model.parameter("period_start").description,
    }
    assert [c["role"] for c in shown["output"]["columns"]] == [
        "dimension", "dimension", "dimension", "count", "measure", "measure"]


def test_show_an_unknown_id_raises_the_user_error():
    result = run("show", "fund.nothing")
    assert result.exit_code == 1
    assert isinstance(result.exception, UnknownAnalysis)
    assert "fund.benefit_summary" in str(result.exception)


def test_test_passes_on_the_library():
    result = run("test")
    assert result.exit_code == 0, result.output
    assert f"ok    {MODEL_ID} 1.2.1: province (4 rows), combine (7 rows)" in result.output
    report = json.loads(run("test", MODEL_ID, "--json").output)
    assert report[0]["ok"] and [s["stage"] for s in report[0]["stages"]] == ["province",
                                                                             "combine"]


def test_test_fails_with_a_readable_diff(library_copy, model_dir):
    edit(model_dir / "fixtures" / "expected_combine.csv", "3,3,540.00", "3,3,540.50")
    result = run("test", "--library", str(library_copy))
    assert result.exit_code == 1
    assert f"FAIL  {MODEL_ID}" in result.output
    assert "combine: " in result.output \
        and "expected row missing: 320000,170,2024-02-01,3,3,540.50" in result.output
    assert "unexpected row returned: 320000,170,2024-02-01,3,3,540.00" in result.output
    as_json = run("test", "--library", str(library_copy), "--json")
    assert as_json.exit_code == 1
    stages = json.loads(as_json.output)[0]["stages"]
    assert [s["ok"] for s in stages] == [True, False]


def test_library_option_reads_another_folder(library_copy, model_dir):
    edit(model_dir / "manifest.toml", 'version = "1.2.1"', 'version = "1.3.0"')
    listed = json.loads(run("list", "--library", str(library_copy), "--json").output)
    assert [(e["id"], e["version"]) for e in listed] == [(MODEL_ID, "1.3.0")]
