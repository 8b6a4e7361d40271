"""`fedaudit node cases …` on a real node home, as a provincial auditor uses it."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from fedaudit.cli import main
from node.cases import CaseStore
from node.home import init_home
from tests.cases.helpers import LI, MODEL, TASK, TITLE, ZHANG, resolve_output

ZHANG_CASE, LI_CASE = "C-1a2b3c4d-0001", "C-1a2b3c4d-0002"


@pytest.fixture()
def home(federation, tmp_path):
    """A node home of province gd, where task TASK opened two cases (as the daemon does)."""
    node_home = init_home(federation / "gd", tmp_path / "gd-home")
    with CaseStore.at_home(node_home) as store:
        store.open_cases(TASK, MODEL, TITLE, resolve_output(), leads=3)
    return node_home


def run(*args, ok: bool = True):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def cases(home, *args, ok: bool = True):
    return run("node", "cases", *args, "--home", home.path, ok=ok)


def test_list_shows_each_case_with_subject_amount_and_status(home):
    out = cases(home, "list").output
    zhang_line = next(line for line in out.splitlines() if line.startswith(ZHANG_CASE))
    for part in (TASK[:8], MODEL, ZHANG, "张三", "4,520.50", "open"):
        assert part in zhang_line
    assert "2 cases, 2 open" in out


def test_list_filters_and_json(home):
    cases(home, "resolve", LI_CASE, "--outcome", "confirmed", "--by", "auditor-wang")
    listed = json.loads(cases(home, "list", "--status", "open", "--json").output)
    assert [c["case_id"] for c in listed] == [ZHANG_CASE]
    assert listed[0]["amount_at_stake"] == "4520.50" and listed[0]["lines"] == []
    by_prefix = json.loads(cases(home, "list", "--task", TASK[:6], "--json").output)
    assert len(by_prefix) == 2
    human = cases(home, "list", "--status", "resolved", "--task", TASK).output
    assert LI_CASE in human and ZHANG_CASE not in human
    cases(home, "resolve", ZHANG_CASE, "--outcome", "confirmed", "--by", "auditor-wang")
    assert cases(home, "list", "--status", "open").output.strip() == "no cases match"


def test_an_unknown_task_or_case_is_an_error_saying_what_to_do(home):
    result = cases(home, "list", "--task", "ffff", ok=False)
    assert result.exit_code == 1
    assert "no cases for task ffff" in result.output and "cases list" in result.output
    result = cases(home, "show", "C-00000000-0001", ok=False)
    assert result.exit_code == 1 and "there is no case C-00000000-0001" in result.output


def test_a_folder_that_is_not_a_node_home_is_refused(tmp_path):
    result = run("node", "cases", "list", "--home", tmp_path, ok=False)
    assert result.exit_code == 1 and "fedaudit node init" in result.output
    assert not (tmp_path / "cases.sqlite").exists()


def test_show_prints_the_case_and_all_its_lines(home):
    out = cases(home, "show", ZHANG_CASE).output
    assert f"subject    {ZHANG}  张三" in out
    assert "at stake   4,520.50 in 3 lines" in out
    for period in ("2024-03-01", "2024-04-01", "2024-05-01"):
        assert period in out
    shown = json.loads(cases(home, "show", ZHANG_CASE, "--json").output)
    assert [line["amount"] for line in shown["lines"]] == ["1500.00", "1500.00", "1520.50"]


def test_resolve_records_the_outcome_and_logs_it_without_the_subject(home):
    result = cases(home, "resolve", LI_CASE, "--outcome", "partly", "--reason", "other",
                   "--confirmed", "500", "--recovered", "120.5", "--note", "李四 paid back",
                   "--by", "auditor-wang")
    assert "resolved C-1a2b3c4d-0002: partly (other)" in result.output
    shown = json.loads(cases(home, "show", LI_CASE, "--json").output)
    assert (shown["outcome"], shown["confirmed_amount"], shown["recovered_amount"]) == (
        "partly", "500.00", "120.50")
    entry = home.audit_log().tail(1)[0]
    assert (entry["event"], entry["case_id"], entry["task_id"]) == ("case.resolved", LI_CASE,
                                                                    TASK)
    assert (entry["outcome"], entry["reason"], entry["confirmed_amount"],
            entry["recovered_amount"], entry["resolved_by"]) == ("partly", "other", "500.00",
                                                                 "120.50", "auditor-wang")
    log_text = home.audit_log_path.read_text(encoding="utf-8")
    assert LI not in log_text and "李四" not in log_text
    again = cases(home, "resolve", LI_CASE, "--outcome", "confirmed", "--by", "auditor-liu")
    assert again.output.startswith("corrected C-1a2b3c4d-0002: confirmed")
    assert home.audit_log().tail(1)[0]["correction"] is True


def test_resolve_without_by_names_the_os_user(home):
    import getpass

    cases(home, "resolve", ZHANG_CASE, "--outcome", "confirmed")
    assert home.audit_log().tail(1)[0]["resolved_by"] == getpass.getuser()


@pytest.mark.parametrize(("args", "message"), [
    (["--outcome", "excluded"], "needs a reason code (--reason)"),
    (["--outcome", "excluded", "--reason", "other"], "needs a note"),
    (["--outcome", "confirmed", "--recovered", "99999"], "may not exceed"),
    (["--outcome", "partly"], "--confirmed AMOUNT"),
])
def test_resolve_refuses_a_broken_rule_with_exit_1_and_logs_nothing(home, args, message):
    before = home.audit_log_path.read_bytes()
    result = cases(home, "resolve", ZHANG_CASE, *args, "--by", "a", ok=False)
    assert result.exit_code == 1 and message in result.output
    assert home.audit_log_path.read_bytes() == before


def test_a_bad_outcome_is_a_usage_error(home):
    result = cases(home, "resolve", ZHANG_CASE, "--outcome", "maybe", ok=False)
    assert result.exit_code == 2


def test_export_writes_a_cases_sheet_and_a_lines_sheet(home, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    cases(home, "resolve", LI_CASE, "--outcome", "excluded", "--reason", "registry_lag",
          "--by", "a")
    out = tmp_path / "field" / "cases.xlsx"
    result = cases(home, "export", "--format", "xlsx", "--out", out, "--task", TASK[:8])
    assert "wrote 2 cases and 4 lines" in result.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["cases", "lines"]
    case_rows = list(book["cases"].iter_rows(values_only=True))
    header = case_rows[0]
    assert "token" not in header
    li = dict(zip(header, case_rows[2], strict=True))
    assert (li["case_id"], li["subject_id"], li["outcome"], li["reason"]) == (
        LI_CASE, LI, "excluded", "registry_lag")
    assert float(li["amount_at_stake"]) == 980.25
    line_rows = list(book["lines"].iter_rows(values_only=True))
    assert line_rows[0] == ("case_id", "subject_id", "subject_name", "amount", "period",
                            "item", "setl_id")
    assert line_rows[3][:4] == (ZHANG_CASE, ZHANG, "张三", 1520.5)
    assert len(line_rows) == 5
    entry = home.audit_log().tail(1)[0]
    assert (entry["event"], entry["cases"], entry["lines"]) == ("cases.exported", 2, 4)


def test_export_with_no_cases_writes_nothing(federation, tmp_path):
    init_home(federation / "gd", tmp_path / "empty-home")
    out = tmp_path / "cases.xlsx"
    result = run("node", "cases", "export", "--out", out, "--home", tmp_path / "empty-home",
                 ok=False)
    assert result.exit_code == 1 and "no cases to export" in result.output
    assert not out.exists()


def test_every_cases_command_and_option_has_help():
    group = main.commands["node"].commands["cases"]
    assert group.help
    for name, command in group.commands.items():
        assert command.help, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"
        assert run("node", "cases", name, "--help").exit_code == 0
