"""`results report` against a real coordinator server (in this process, mutual TLS).

The kits, server, store, sharing rules and signatures are real; the result itself is
finished by hand (tests.sharing.helpers.finished_result), the way the sharing tests do.
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from coordinator import CoordinatorError
from coordinator.home import init_home
from coordinator.report_cli import report_command
from coordinator.server import CoordinatorServer
from fedaudit.cli import main
from tests.report.helpers import Page
from tests.sharing.helpers import SPEC, finished_result, per_node_table


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    from certs import provision

    root = tmp_path_factory.mktemp("report-fed")
    spec = root / "share.toml"
    spec.write_text(SPEC, encoding="utf-8")
    provision(spec, root / "share")
    return root / "share"


@pytest.fixture(scope="module")
def server(kits, tmp_path_factory):
    """The coordinator's gRPC server without its combine loop (the tests finish tasks)."""
    home = init_home(kits / "coordinator", tmp_path_factory.mktemp("report") / "home")
    running = CoordinatorServer(home, "127.0.0.1:0")
    running.server.start()
    yield running
    running.server.stop(0.5).wait()
    running.coordinator.close()


@pytest.fixture(scope="module")
def task_id(server, kits):
    return finished_result(server.coordinator, kits, per_node_table())


def report(server, kits, who, task_id, out, code=0):
    args = [task_id, "--out", str(out), "--kit", str(kits / who),
            "--coordinator", server.address]
    result = CliRunner().invoke(report_command, args)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_hq_writes_the_report_of_a_result(server, kits, task_id, tmp_path):
    out = tmp_path / "report.html"
    result = report(server, kits, "hq-lead", task_id, out)
    assert f"wrote the report of task {task_id} (dq.dataset_quality, 4 of 4" in result.output
    page = Page(out.read_text(encoding="utf-8"))
    assert [len(bars) for bars in page.charts] == [4]  # rows per node; dq has no money
    for label in ("广东省 (gd)", "广西壮族自治区 (gx)", "海南省 (hn)", "浙江省 (zj)"):
        assert label in page.sections["charts"]
    # The data-quality model is descriptive: the findings summarise it per node.
    assert "广东省：数据集数 2，记录数 30" in page.sections["findings"]
    coverage = page.sections["coverage"]
    assert "4 of 4 target nodes answered" in coverage and "440000" in coverage
    # finished_result stores no receipts: the report says so instead of trusting them.
    assert coverage.count("NOT VERIFIED") == 4
    assert not list(tmp_path.glob(".report.html.*"))  # no temporary file left behind


def test_an_office_reports_only_what_its_grant_shows(server, kits, task_id, tmp_path):
    out = tmp_path / "office.html"
    out.write_text("earlier report", encoding="utf-8")
    refused = report(server, kits, "office-north", task_id, out, code=1)
    assert isinstance(refused.exception, CoordinatorError)
    assert out.read_text(encoding="utf-8") == "earlier report"  # left as it was
    shared = CliRunner().invoke(main, [
        "results", "share", task_id, "--with", "office-north", "--purpose", "report test",
        "--expires", "30d", "--regions", "44,45", "--kit", str(kits / "hq-lead"),
        "--coordinator", server.address])
    assert shared.exit_code == 0, (shared.output, shared.exception)
    report(server, kits, "office-north", task_id, out)
    page = Page(out.read_text(encoding="utf-8"))
    assert [len(bars) for bars in page.charts] == [2]
    assert "广东省 (gd)" in page.sections["charts"] and "海南" not in page.sections["charts"]
    assert "Ownerhq-lead" in page.sections["shared"]
    assert "Regions44, 45" in page.sections["shared"]
    assert "2 of 2 target nodes answered" in page.sections["coverage"]


def test_every_option_has_help():
    assert report_command.help
    for param in report_command.params:
        if isinstance(param, click.Option):
            assert param.help, param.name
    assert CliRunner().invoke(report_command, ["--help"]).exit_code == 0
