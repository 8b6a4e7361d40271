"""End to end: a real coordinator and real node processes over mutual TLS on loopback."""

from __future__ import annotations

import datetime as dt
import time

import duckdb
import grpc
import pytest

from analyses import load_library
from analyses.tasks import add_signature, draft_task, parse_targets
from certs import load_kit
from coordinator import CoordinatorError
from coordinator.client import PeopleClient
from proto import fedaudit_pb2 as pb
from proto import fedaudit_pb2_grpc as rpc
from proto import task_pb2
from tests.e2e.data import write_benefit_payments
from tests.e2e.harness import Federation, fedaudit

pytestmark = pytest.mark.slow

NODES = [("gd", "province", "440000"), ("gx", "province", "450000"),
         ("hn", "province", "460000")]


def signed_task(fed: Federation, *, targets=("level=province",), signers=("hq-lead",),
                lifetime=dt.timedelta(minutes=10), now=None, analysis="fund.benefit_summary",
                kind=None, params=None):
    model = load_library().get(analysis)
    task = draft_task(
        federation="e2e", analysis_id=model.id, analysis_version=model.version,
        analysis_digest=model.digest, output_kind=kind or model.kind,
        parameters=model.bind_parameters(params or {}), targets=parse_targets(targets),
        purpose=task_pb2.Purpose(text="e2e test"), lifetime=lifetime, now=now,
    )
    for signer in signers:
        kit = load_kit(fed.kit(signer))
        task = add_signature(task, kit.party_id, kit.signing_key())
    return task


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    federation = Federation(root, NODES)
    for seed, (node_id, _, region) in enumerate(NODES, start=1):
        # Enough persons that no cell falls under the default disclosure threshold.
        data = write_benefit_payments(root / f"{node_id}.csv", region[:2] + "0100", 150 + seed,
                                      seed)
        fedaudit("node", "ingest", "benefit_payment", data, "--home", federation.home(node_id))
    federation.start_coordinator()
    for node_id, _, _ in NODES:
        federation.start_node(node_id)
    federation.wait_connected([n for n, _, _ in NODES])
    yield federation
    federation.stop()


def test_federated_result_equals_the_query_over_the_union(fed):
    task = signed_task(fed)
    with fed.client() as client:
        client.submit(task)
    status = fed.wait_final(task.spec.task_id)
    assert status.state == "complete", status
    assert {n.node_id: n.state for n in status.nodes} == {"gd": "done", "gx": "done", "hn": "done"}
    with fed.client() as client:
        provenance, table = client.fetch_result(task.spec.task_id)
    model = load_library().get("fund.benefit_summary")
    con = duckdb.connect()
    files = ", ".join(f"'{fed.root / n}.csv'" for n, _, _ in NODES)
    con.execute(f"CREATE TABLE benefit_payment AS SELECT * FROM read_csv([{files}], "
                "types={'amount': 'DECIMAL(14,2)', 'period': 'DATE', 'id_no': 'VARCHAR', "
                "'scheme_code': 'VARCHAR', 'pool_admdvs': 'VARCHAR'})")
    expected = con.sql(model.sql["province"], params=model.bind_parameters({})).to_arrow_table()
    assert table.select(expected.column_names).to_pylist() == expected.to_pylist()
    assert not any(table.column("lower_bound").to_pylist())
    assert {n["node_id"] for n in provenance["nodes"] if n["state"] == "done"} == {"gd", "gx", "hn"}
    for node in provenance["nodes"]:
        assert node["snapshots"]["benefit_payment"]


def test_results_show_verifies_receipts_and_exports(fed, tmp_path):
    task = signed_task(fed)
    with fed.client() as client:
        client.submit(task)
    fed.wait_final(task.spec.task_id)
    task_id = task.spec.task_id
    kit = ["--kit", fed.kit("hq-lead"), "--coordinator", fed.address]
    shown = fedaudit("results", "show", task_id, *kit).stdout
    assert shown.count("receipt verified") == 3
    fedaudit("results", "export", task_id, "--format", "csv", "--out", tmp_path / "r.csv", *kit)
    assert (tmp_path / "r.csv").read_text().startswith('"region","scheme_code","period"')
    fedaudit("results", "export", task_id, "--format", "xlsx", "--out", tmp_path / "r.xlsx", *kit)
    import openpyxl

    sheets = openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames
    assert "result" in sheets and len(sheets) > 1
    findings = fedaudit("results", "findings", task_id, *kit).stdout
    assert "万元" in findings
    fedaudit("results", "report", task_id, "--out", tmp_path / "r.html", *kit)
    html = (tmp_path / "r.html").read_text()
    assert "<svg" in html and "http://" not in html and "https://" not in html
    watched = fedaudit("task", "watch", task_id, *kit).stdout
    assert "complete" in watched and "gd" in watched


def test_under_approved_task_is_refused_by_each_node(fed):
    task = signed_task(fed, kind="tokens")  # one signer; tokens need lead + approver
    with fed.client() as client:
        client.submit(task)
    status = fed.wait_final(task.spec.task_id)
    assert status.state == "failed"
    assert {n.refusal_code for n in status.nodes} == {"INSUFFICIENT_APPROVALS"}


def test_submission_checks_signatures_early(fed):
    task = signed_task(fed)
    spec = task.spec
    spec.expires_at.FromDatetime(dt.datetime(2099, 1, 1, tzinfo=dt.UTC))
    forged = type(task)(spec.SerializeToString(), task.signatures)
    with fed.client() as client, pytest.raises(CoordinatorError) as caught:
        client.submit(forged)
    assert caught.value.code == "BAD_SIGNATURE"


def test_a_node_kit_cannot_use_the_people_service(fed):
    with PeopleClient(load_kit(fed.kit("gd")), fed.address) as client:
        with pytest.raises(CoordinatorError) as caught:
            client.submit(signed_task(fed))
    assert caught.value.code == "FORBIDDEN"


def test_an_issuer_cannot_subscribe_as_a_node(fed):
    from certs import channel_credentials

    channel = grpc.secure_channel(fed.address, channel_credentials(load_kit(fed.kit("hq-lead"))))
    stub = rpc.NodeServiceStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        next(stub.Subscribe(pb.SubscribeRequest(node_id="gd"), timeout=10))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    channel.close()


def test_a_certificate_from_another_federation_is_refused_at_the_handshake(fed, other_federation):
    with PeopleClient(load_kit(other_federation / "hq-lead"), fed.address, timeout=5) as client:
        with pytest.raises(CoordinatorError) as caught:
            client.nodes()
    assert caught.value.code == "UNAVAILABLE"


def test_nodes_lists_connected_nodes_with_their_catalog(fed):
    out = fedaudit("nodes", "--kit", fed.kit("hq-lead"), "--coordinator", fed.address).stdout
    for node_id, _, _ in NODES:
        assert node_id in out
    assert "benefit_payment" in out and "connected" in out
    with_policies = fedaudit("nodes", "--policies", "--kit", fed.kit("hq-lead"), "--coordinator",
                             fed.address).stdout
    assert "clock_skew_seconds = 120" in with_policies


def test_every_step_is_in_the_node_audit_log(fed):
    task = signed_task(fed, targets=("gd",))
    with fed.client() as client:
        client.submit(task)
    fed.wait_final(task.spec.task_id)
    time.sleep(0.5)  # the released entry follows the coordinator's acknowledgement
    shown = fedaudit("node", "log", "show", "--home", fed.home("gd"), "--json").stdout
    import json

    events = [json.loads(line) for line in shown.splitlines()]
    mine = [e["event"] for e in events if e.get("task_id") == task.spec.task_id]
    assert mine == ["task.received", "task.accepted", "task.disclosure", "task.executed",
                    "task.released"]
    fedaudit("node", "log", "verify", "--home", fed.home("gd"))


def test_health_service_answers_serving(fed):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from certs import channel_credentials

    channel = grpc.secure_channel(fed.address, channel_credentials(load_kit(fed.kit("gd"))))
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    channel.close()


def test_an_office_cannot_read_results_not_shared_with_it(fed):
    task = signed_task(fed, targets=("gd",))
    with fed.client() as client:
        client.submit(task)
    fed.wait_final(task.spec.task_id)
    with PeopleClient(load_kit(fed.kit("office-south")), fed.address) as office:
        with pytest.raises(CoordinatorError) as caught:
            office.fetch_result(task.spec.task_id)
    assert caught.value.code == "FORBIDDEN"
