"""How verification shows: the CLI table, the finding lines' status and the HTML report."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pyarrow as pa
import pytest
from click.testing import CliRunner

from coordinator.findings import Progress, build_findings
from coordinator.report import render_report
from coordinator.store import TaskStore
from coordinator.verification import line_progress, record_verification, verification_summary
from coordinator.verification_cli import fetch_verification, summary_lines, verification_command
from tests.report.helpers import Page, write_model
from tests.report.helpers import provenance as report_provenance
from tests.verification.helpers import PLACES, TASK, add_linkage_task, as_bytes, report
from tests.verification.test_summary import GD, GX


@pytest.fixture
def summary(tmp_path):
    with TaskStore(tmp_path / "coordinator.db") as store:
        add_linkage_task(store)
        record_verification(store, "gd", as_bytes(report("gd", GD)))
        record_verification(store, "gx", as_bytes(report("gx", GX)))
        return verification_summary(store, TASK)


def _result() -> pa.Table:
    """A linkage result per node: the matched persons and the amount at stake."""
    return pa.table({"node_id": ["gd", "gx", "hn"], "persons": pa.array([12, 10, 8], pa.int64()),
                     "amount": pa.array([Decimal("5600.00"), Decimal("2150.10"),
                                         Decimal("900.00")], pa.decimal128(38, 2))})


def test_the_table_has_a_row_per_province_the_national_line_and_the_notes(summary):
    lines = summary_lines(summary, PLACES)
    assert lines[0].startswith("任务 task t-link：pension.paid_after_death@1.0.0 "
                               "死亡人员冒领养老金")
    gd = next(line for line in lines if line.startswith("广东省 (gd)"))
    for cell in ("核实中 verifying", "12", "0.56 (5,600.00)", "0.41 (4,100.00)",
                 "0.10 (1,000.00)", "90.0%"):
        assert cell in gd
    hn = next(line for line in lines if line.startswith("海南省 (hn)"))
    assert "未报告 not reported" in hn and hn.rstrip().endswith("-")
    national = next(line for line in lines if line.startswith("全国 National"))
    assert "0.78 (7,750.10)" in national and "77.8%" in national
    assert ("排除原因 excluded by reason, 广西壮族自治区 (gx): 数据错误 data error 2、"
            "其他 other 1") in lines
    assert "未报告 not reported: 海南省 (hn)" in lines
    assert lines[-1].endswith("(2 of 3).")
    # The columns line up: the last column is right-aligned, so every row of the table
    # (two header rows, three nodes, the nation) ends at the same terminal column.
    header = next(i for i, line in enumerate(lines) if line.startswith("节点"))
    assert lines[header + 1].startswith("Node")
    assert len({_terminal_width(line) for line in lines[header:header + 6]}) == 1


def _terminal_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_a_running_task_says_the_leads_are_not_back_yet():
    lines = summary_lines({"task_id": "t", "task_state": "running", "nodes": [],
                           "model": {"id": "m", "version": "1", "title_zh": "", "title_en": ""},
                           "national": {}})
    assert "the task is still running" in lines[1]


def test_line_progress_gives_each_node_its_province_and_the_nation_a_status(summary):
    progress = line_progress(summary, PLACES)
    assert progress["gd"] == progress["440000"] == Progress("verifying", 12, 10, 8, 1)
    assert progress["gx"] == Progress("verified", 8, 8, 5, 0)
    assert progress["hn"] == progress["460000"] == "pending"
    assert progress["national"] == Progress("verifying", 20, 18, 13, 1)
    assert "deaths" not in progress


def test_finding_lines_say_how_far_verification_came(summary):
    findings = build_findings(_result(), {"task_id": TASK, "state": "complete", "nodes": []},
                              None, PLACES, verification=line_progress(summary, PLACES))
    text = {line.key: (line.text_zh, line.text_en) for line in findings.lines}
    assert "（核实中 10/12）" in text["gd"][0]
    assert "(verification in progress: 10 of 12 cases resolved)" in text["gd"][1]
    assert "（已核实 8/8，确认5）" in text["gx"][0]
    assert "(verified: 8 of 8 cases resolved, 5 confirmed)" in text["gx"][1]
    assert "（待核实）" in text["hn"][0]
    assert "（核实中 18/20）" in text["national"][0]
    gd = next(line for line in findings.lines if line.key == "gd")
    assert gd.to_dict()["progress"] == {"status": "verifying", "cases": 12, "resolved": 10,
                                        "confirmed": 8, "partly": 1}


def test_a_verified_line_names_the_partly_confirmed_cases():
    zh, en = Progress("verified", 12, 12, 10, 2).text()
    assert (zh, en) == ("已核实 12/12，确认10，部分确认2",
                        "verified: 12 of 12 cases resolved, 10 confirmed, 2 partly")


def test_progress_with_a_status_that_is_not_verification_is_refused():
    with pytest.raises(ValueError, match="verifying or verified"):
        build_findings(_result(), {"nodes": []}, None, PLACES,
                       verification={"gd": Progress("pending", 1, 0, 0)})


def test_the_report_shows_a_verification_table_with_precision_per_province(tmp_path, summary):
    model = write_model(tmp_path / "models", kind="flags")
    table = pa.table({"token": ["a" * 64, "b" * 64], "pool_admdvs": ["440103", "450102"],
                      "amount": pa.array([Decimal("10"), Decimal("20")], pa.decimal128(38, 2))})
    nodes = [{"node_id": n, "state": "done", "rows": 1} for n in ("gd", "gx", "hn")]
    page = Page(render_report(report_provenance(model, nodes, "complete"), table, model,
                              places=PLACES, verification=summary))
    section = page.sections["verification"]
    for text in ("广东省 (gd)", "核实中 / verifying", "90.0%", "62.5%", "77.8%",
                 "0.56 (5,600.00)", "登记滞后 registry lag: 1", "Not reported yet: 海南省 (hn)"):
        assert text in section, text
    precision_chart = page.charts[-1]
    assert len(precision_chart) == 2  # Guangdong and Guangxi resolved cases; Hainan did not
    without = Page(render_report(report_provenance(model, nodes, "complete"), table, model,
                                 places=PLACES))
    assert "Not yet available." in without.sections["verification"]


class _Client:
    """Stands in for the network only: records which task the summary was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def verification(self, task_id: str) -> dict:
        self.asked.append(task_id)
        return {"task_id": task_id}


def test_the_summary_is_fetched_only_for_a_linkage_result():
    client = _Client()
    assert fetch_verification(client, {"task_id": "t-agg"}) is None
    assert fetch_verification(client, {"task_id": "t-link", "linkage": {"nodes": []}}) == {
        "task_id": "t-link"}
    assert client.asked == ["t-link"]


def test_the_command_and_its_options_have_help():
    assert verification_command.help
    for param in verification_command.params:
        if param.param_type_name == "option":
            assert param.help, param.name
    result = CliRunner().invoke(verification_command, ["--help"])
    assert result.exit_code == 0 and "--json" in result.output


def test_the_command_is_part_of_results():
    from coordinator.people_cli import results

    assert results.commands["verification"] is verification_command
