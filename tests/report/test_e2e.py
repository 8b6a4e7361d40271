"""A report of a real federated result: real node processes, receipts, disclosure, refusal.

gd and gx hold enough persons; hn's cells fall under the disclosure threshold, so the
national figures are lower bounds; zj holds no data and refuses the task. The report is
written by `results report` exactly as a user runs it.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from coordinator.report_cli import report_command
from tests.e2e.data import write_benefit_payments
from tests.e2e.harness import Federation, fedaudit
from tests.e2e.test_federation import signed_task
from tests.report.helpers import Page

pytestmark = pytest.mark.slow

NODES = [("gd", "province", "440000"), ("gx", "province", "450000"),
         ("hn", "province", "460000"), ("zj", "province", "330000")]
PERSONS = {"gd": 200, "gx": 200, "hn": 12}


@pytest.fixture()
def fed(tmp_path):
    federation = Federation(tmp_path, NODES)
    for seed, (node_id, persons) in enumerate(PERSONS.items(), start=1):
        region = dict((n, r) for n, _, r in NODES)[node_id]
        data = write_benefit_payments(tmp_path / f"{node_id}.csv", region[:2] + "0100",
                                      persons, seed)
        fedaudit("node", "ingest", "benefit_payment", data, "--home", federation.home(node_id))
    federation.start_coordinator()
    for node_id, _, _ in NODES:
        federation.start_node(node_id)
    federation.wait_connected([n for n, _, _ in NODES])
    yield federation
    federation.stop()


def test_the_report_of_a_real_result_shows_its_provenance(fed, tmp_path):
    task = signed_task(fed)
    with fed.client() as client:
        client.submit(task)
    assert fed.wait_final(task.spec.task_id).state == "partial"
    out = tmp_path / "report.html"
    result = CliRunner().invoke(report_command, [
        task.spec.task_id, "--out", str(out), "--kit", str(fed.kit("hq-lead")),
        "--coordinator", fed.address])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "3 of 4 nodes answered" in result.output
    page = Page(out.read_text(encoding="utf-8"))
    assert len(page.charts) == 2 and all(page.charts)  # persons and amount
    assert any("lb" in bar["class"].split() for bar in page.charts[0])  # hn's part is missing
    assert page.find("td", "lb")
    coverage = page.sections["coverage"]
    assert coverage.count("verified") == 3 and "NOT VERIFIED" not in coverage
    assert "zj refused: refusal MISSING_DATASET" in coverage
    assert "Partial coverage: 1 of 4 nodes did not answer" in page.all_text
    assert page.sections["snapshots"].count("benefit_payment") == 3
    policies = page.sections["policies"]
    assert "suppressed 0 primary" in policies and "aggregate: auto" in policies
    assert "Not yet available." in page.sections["verification"]
