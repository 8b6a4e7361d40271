"""The data commands as a user meets them: validate, ingest into a real node home, list."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fedaudit.cli import main
from node.data_cli import DATA_COMMANDS, datasets_command, ingest_command, validate_command
from tests.data._samples import (
    BENEFIT_HEADER,
    INSURED_HEADER,
    benefit_rows,
    insured_rows,
    write_csv,
)


def invoke(command, *args):
    return CliRunner().invoke(command, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def home(federation: Path, tmp_path: Path) -> Path:
    """A node home made the real way, from the shared federation's `gd` kit."""
    home = tmp_path / "gd-home"
    result = CliRunner().invoke(main, ["node", "init", "--kit", str(federation / "gd"),
                                       "--home", str(home)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture()
def good_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "payments.csv", BENEFIT_HEADER,
                     benefit_rows(24, ["2024-01", "2024-02", "2024-04"]))


@pytest.fixture()
def bad_csv(tmp_path: Path) -> Path:
    rows = benefit_rows(5)
    rows[2][7] = "abc"
    return write_csv(tmp_path / "broken.csv", BENEFIT_HEADER, rows)


def test_every_command_and_option_has_help():
    for command in DATA_COMMANDS:
        assert command.help and "Example:" in command.help
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{command.name} {param.name} has no help"
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_validate_exit_codes_and_json(good_csv: Path, bad_csv: Path):
    ok = invoke(validate_command, "benefit_payment", good_csv)
    assert ok.exit_code == 0 and "OK: 24 rows" in ok.output
    bad = invoke(validate_command, "benefit_payment", bad_csv, "--json")
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["accepted"] is False and report["problem_counts"] == {"unparsable": 1}
    assert report["problems"][0] == {"row": 3, "column": "amount", "kind": "unparsable",
                                     "value": "abc", "message": "'abc' is not an amount "
                                     "such as 1234.50"}
    assert "would be rejected" in bad.stderr
    usage = invoke(validate_command, "pensions", good_csv)
    assert usage.exit_code == 2 and "benefit_payment" in usage.output
    assert invoke(validate_command, "benefit_payment", good_csv.with_name("x.csv")) \
        .exit_code == 2


def test_ingest_and_list_the_catalog(home: Path, good_csv: Path, bad_csv: Path,
                                     tmp_path: Path):
    result = invoke(ingest_command, "benefit_payment", good_csv, "--home", home,
                    "--as-of", "2024-04-30")
    assert result.exit_code == 0, result.output
    assert "Snapshot" in result.stdout and "loading payments.csv" in result.stderr
    people = write_csv(tmp_path / "people.csv", INSURED_HEADER, insured_rows())
    assert invoke(ingest_command, "insured_person", people, "--home", home,
                  "--json").exit_code == 0
    listed = invoke(datasets_command, "--home", home)
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["dataset", "rows", "months"]
    assert lines[1].split()[:5] == ["benefit_payment", "24", "2024-01..2024-04", "1",
                                    "2024-04-30"]
    assert "benefit_payment: missing months 2024-03" in listed.stdout
    as_json = json.loads(invoke(datasets_command, "--home", home, "--json").stdout)
    assert [r["dataset"] for r in as_json] == ["benefit_payment", "insured_person"]
    assert as_json[0]["lag_days"] == (dt.date.today() - dt.date(2024, 4, 30)).days
    assert as_json[0]["missing_months"] == ["2024-03-01"]
    # A broken file is refused with a report that says what to fix; the catalog is as it was.
    refused = invoke(ingest_command, "benefit_payment", bad_csv, "--home", home)
    assert refused.exit_code == 1
    assert "REJECTED" in refused.stdout and "What to fix:" in refused.stdout
    assert "nothing was ingested" in refused.stderr
    assert json.loads(invoke(datasets_command, "--home", home, "--json").stdout) == as_json


def test_not_a_node_home_is_a_clear_error(tmp_path: Path, good_csv: Path):
    result = invoke(ingest_command, "benefit_payment", good_csv, "--home", tmp_path / "nope")
    assert result.exit_code == 1 and "is not a node home" in result.stderr
    result = invoke(datasets_command, "--home", tmp_path / "nope")
    assert result.exit_code == 1 and "fedaudit node init" in result.stderr


def test_an_empty_catalog_says_how_to_start(home: Path):
    result = invoke(datasets_command, "--home", home)
    assert result.exit_code == 0 and "fedaudit node ingest DATASET FILE" in result.stdout
    assert json.loads(invoke(datasets_command, "--home", home, "--json").stdout) == []
