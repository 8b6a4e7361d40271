"""`findings_command` against a real coordinator server (in this process, mutual TLS): the
result and its provenance come through `PeopleClient.fetch_result`, regions from the
kit's roster. The test federation (tests/conftest.py) has provinces gd and gx."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import click
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from analyses import load_library
from analyses.tasks import add_signature, draft_task, parse_targets
from certs import load_kit
from coordinator import CoordinatorError
from coordinator.findings_cli import findings_command
from coordinator.home import init_home
from coordinator.results import result_path, write_provenance
from coordinator.server import CoordinatorServer
from proto import task_pb2


def test_the_command_and_every_option_have_help():
    assert findings_command.help and "万元" in findings_command.help
    for param in findings_command.params:
        if isinstance(param, click.Option):
            assert param.help, param.name
    shown = CliRunner().invoke(findings_command, ["--help"])
    assert shown.exit_code == 0
    for option in ("--kit", "--coordinator", "--json", "--xlsx"):
        assert option in shown.output


@pytest.fixture(scope="module")
def server(federation, tmp_path_factory):
    """The coordinator's gRPC server without its combine loop: the test finishes its task."""
    home = init_home(federation / "coordinator", tmp_path_factory.mktemp("findings") / "home")
    running = CoordinatorServer(home, "127.0.0.1:0")
    running.server.start()
    yield running
    running.server.stop(0.5).wait()
    running.coordinator.close()


def finished_task(coordinator, federation) -> str:
    """A benefit_summary task for the provinces: gd answered, gx refused."""
    model = load_library().get("fund.benefit_summary")
    task = draft_task(
        federation=coordinator.roster.federation, analysis_id=model.id,
        analysis_version=model.version, analysis_digest=model.digest, output_kind=model.kind,
        parameters=model.bind_parameters({}), targets=parse_targets(["level=province"]),
        purpose=task_pb2.Purpose(project="AUD-2025-08", text="findings tests"),
        lifetime=dt.timedelta(hours=1))
    kit = load_kit(federation / "hq-lead")
    record = coordinator.submit(add_signature(task, kit.party_id, kit.signing_key()), "hq-lead")
    task_id = record.task_id
    store = coordinator.store
    store.record_report(task_id, "gd", "done", rows=2, partial_path="/nowhere/gd",
                        receipt=b"{}", receipt_signature=b"\0" * 64)
    store.record_report(task_id, "gx", "refused", refusal_code="POLICY_FORBIDS")
    table = pa.table({
        "region": ["440000", "440000"], "scheme_code": ["110", "110"],
        "period": pa.array([dt.date(2024, 1, 1), dt.date(2024, 12, 1)], pa.date32()),
        "persons": pa.array([600, None], pa.int64()),
        "payments": pa.array([600, None], pa.int64()),
        "amount": pa.array([Decimal("1234567.89"), None], pa.decimal128(38, 2)),
        "suppressed_parts": pa.array([0, 1], pa.int32()), "lower_bound": [False, True]})
    out = result_path(coordinator.home.path, task_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    provenance = {
        "task_id": task_id, "state": "partial", "rows": 2, "submitted_by": "hq-lead",
        "combined_at": "2025-01-31T00:00:00+00:00", "notes": model.notes.strip(),
        "analysis": {"id": model.id, "version": model.version, "digest": model.digest,
                     "title_zh": model.title_zh, "title_en": model.title_en,
                     "kind": model.kind},
        "nodes": [{"node_id": "gd", "state": "done", "rows": 2},
                  {"node_id": "gx", "state": "refused", "refusal_code": "POLICY_FORBIDS"}]}
    write_provenance(coordinator.home.path, task_id, provenance)
    store.finish_task(task_id, "partial", str(out), provenance)
    return task_id


def test_findings_of_a_fetched_result(server, federation, tmp_path):
    task_id = finished_task(server.coordinator, federation)
    kit = ["--kit", str(federation / "hq-lead"), "--coordinator", server.address]
    xlsx = tmp_path / "findings.xlsx"
    shown = CliRunner().invoke(findings_command, [task_id, *kit, "--xlsx", str(xlsx)])
    assert shown.exit_code == 0, (shown.output, shown.exception)
    text = shown.output
    assert "2024年，广东省，养老金等待遇发放汇总：涉及≥600人次" in text
    assert "金额≥123.46万元（部分单元格因保密规则未披露" in text
    assert "合计 2024年，全国1个省份" in text
    assert "拒绝1个：gx（POLICY_FORBIDS）" in text
    assert "Coverage: 1 of 2 target nodes answered; refused: gx (POLICY_FORBIDS)." in text
    openpyxl = pytest.importorskip("openpyxl")
    assert "findings" in openpyxl.load_workbook(xlsx).sheetnames

    as_json = CliRunner().invoke(findings_command, [task_id, *kit, "--json"])
    assert as_json.exit_code == 0, (as_json.output, as_json.exception)
    data = json.loads(as_json.output)
    gd = data["lines"][0]
    assert (gd["key"], gd["subjects"], gd["amount_wan"], gd["lower_bound"]) == \
        ("440000", 600, "123.46", True)
    assert data["coverage"]["refused"] == [["gx", "POLICY_FORBIDS"]]


def test_an_unknown_task_is_a_clear_error(server, federation):
    kit = ["--kit", str(federation / "hq-lead"), "--coordinator", server.address]
    shown = CliRunner().invoke(findings_command, ["no-such-task", *kit])
    assert shown.exit_code != 0
    assert isinstance(shown.exception, CoordinatorError)
    assert shown.exception.code == "NOT_FOUND" and "no-such-task" in str(shown.exception)
