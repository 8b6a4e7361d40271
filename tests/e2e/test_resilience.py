"""Failures on purpose: nodes and coordinator killed, offline, fed forged or bad input."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time

import grpc
import pytest

from analyses.tasks import SignedTask
from certs import channel_credentials, load_kit
from coordinator.store import TaskStore
from tests.e2e.data import write_benefit_payments
from tests.e2e.harness import Federation, fedaudit
from tests.e2e.test_federation import signed_task

pytestmark = pytest.mark.slow

NODES = [("gd", "province", "440000"), ("gx", "province", "450000")]


@pytest.fixture()
def fed(tmp_path):
    federation = Federation(tmp_path, NODES)
    for seed, (node_id, _, region) in enumerate(NODES, start=1):
        data = write_benefit_payments(tmp_path / f"{node_id}.csv", region[:2] + "0100", 30, seed)
        fedaudit("node", "ingest", "benefit_payment", data, "--home", federation.home(node_id))
    federation.start_coordinator()
    yield federation
    federation.stop()


def node_events(fed: Federation, node_id: str, task_id: str) -> list[str]:
    shown = fedaudit("node", "log", "show", "--home", fed.home(node_id), "--json").stdout
    return [e["event"] for e in map(json.loads, shown.splitlines()) if e.get("task_id") == task_id]


def inject(fed: Federation, task: SignedTask, targets, deadline_in: float = 60) -> None:
    """Puts a task straight into the coordinator's store, as a compromised or buggy
    coordinator would: the nodes are the ones that must refuse it."""
    spec = task.spec
    with TaskStore(fed.coordinator_home / "coordinator.db") as store:
        store.add_task(task_id=spec.task_id, analysis_id=spec.analysis_id,
                       analysis_version=spec.analysis_version,
                       analysis_digest=spec.analysis_digest, output_kind=spec.output_kind,
                       submitted_by="hq-lead", signed_task=task.to_proto().SerializeToString(),
                       targets=list(targets), deadline=int(time.time() + deadline_in),
                       submitted_at=int(time.time()))


def test_node_offline_past_the_deadline_gives_a_partial_result(fed):
    fed.start_node("gd")
    fed.wait_connected(["gd"])
    task = signed_task(fed, lifetime=dt.timedelta(seconds=4))
    with fed.client() as client:
        client.submit(task)
    status = fed.wait_final(task.spec.task_id, timeout=30)
    assert status.state == "partial"
    assert {n.node_id: n.state for n in status.nodes} == {"gd": "done", "gx": "missing"}
    shown = fedaudit("results", "show", task.spec.task_id, "--kit", fed.kit("hq-lead"),
                     "--coordinator", fed.address).stdout
    assert "state partial" in shown and "gx" in shown and "missing" in shown


def test_coordinator_killed_after_submission_loses_nothing(fed):
    task = signed_task(fed)
    with fed.client() as client:
        client.submit(task)
    address = fed.address
    fed.coordinator.kill()
    fed.start_coordinator(listen=address)
    for node_id, _, _ in NODES:
        fed.start_node(node_id)
    status = fed.wait_final(task.spec.task_id, timeout=60)
    assert status.state == "complete"


def test_node_killed_mid_task_never_runs_it_twice(fed):
    process = fed.start_node("gd")
    fed.start_node("gx")
    fed.wait_connected(["gd", "gx"])
    task = signed_task(fed)
    task_id = task.spec.task_id
    with fed.client() as client:
        client.submit(task)
    deadline = time.monotonic() + 30
    while "task.accepted" not in node_events(fed, "gd", task_id):
        assert time.monotonic() < deadline, "gd never accepted the task"
        time.sleep(0.05)
    process.kill()  # wherever it is: running, writing its outbox, or reporting
    fed.start_node("gd")
    status = fed.wait_final(task_id, timeout=60)
    gd = next(n for n in status.nodes if n.node_id == "gd")
    assert gd.state in ("done", "failed")
    events = node_events(fed, "gd", task_id)
    assert events.count("task.accepted") == 1
    assert events.count("task.executed") <= 1


def test_forged_and_expired_deliveries_are_refused_by_the_nodes(fed):
    for node_id, _, _ in NODES:
        fed.start_node(node_id)
    fed.wait_connected(["gd", "gx"])
    good = signed_task(fed)
    spec = good.spec
    spec.expires_at.FromDatetime(dt.datetime(2099, 1, 1, tzinfo=dt.UTC))
    forged = SignedTask(spec.SerializeToString(), good.signatures)
    expired = signed_task(fed, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3),
                          lifetime=dt.timedelta(hours=1))
    inject(fed, forged, ["gd", "gx"])
    inject(fed, expired, ["gd", "gx"])
    for task, code in ((forged, "BAD_SIGNATURE"), (expired, "EXPIRED")):
        status = fed.wait_final(task.spec.task_id)
        assert {n.refusal_code for n in status.nodes} == {code}
        watched = fedaudit("task", "watch", task.spec.task_id, "--kit", fed.kit("hq-lead"),
                           "--coordinator", fed.address, check=False).stdout
        assert watched.count(code) == 2


def test_a_task_replayed_through_a_fresh_coordinator_is_refused(fed):
    fed.start_node("gd")
    fed.wait_connected(["gd"])
    task = signed_task(fed, targets=("gd",))
    with fed.client() as client:
        client.submit(task)
    assert fed.wait_final(task.spec.task_id).state == "complete"
    address = fed.address
    fed.coordinator.stop()
    shutil.rmtree(fed.coordinator_home / "results")
    for leftover in fed.coordinator_home.glob("coordinator.db*"):
        leftover.unlink()
    fed.start_coordinator(listen=address)
    fed.wait_connected(["gd"], timeout=60)
    with fed.client() as client:
        client.submit(task)
    status = fed.wait_final(task.spec.task_id)
    assert status.nodes[0].refusal_code == "REPLAYED"


def test_malformed_and_oversized_messages_do_not_crash_the_server(fed):
    kit = load_kit(fed.kit("hq-lead"))
    channel = grpc.secure_channel(fed.address, channel_credentials(kit))
    submit = channel.unary_unary("/fedaudit.v1.PeopleService/Submit")
    with pytest.raises(grpc.RpcError) as caught:
        submit(b"\xff\xff\xff\xff not a protobuf", timeout=10)
    assert caught.value.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT)
    with pytest.raises(grpc.RpcError) as caught:
        submit(b"\x0a" + b"\xff" * 9 * 1024 * 1024, timeout=10)
    assert caught.value.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                   grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT)
    channel.close()
    with fed.client() as client:  # still serving
        assert client.tasks() == []


def test_an_air_gapped_node_runs_a_task_file_and_hq_imports_the_bundle(fed, tmp_path):
    from analyses.tasks import save_task

    task = signed_task(fed, targets=("gd",))
    task_file = tmp_path / "task.json"
    save_task(task, task_file)
    bundle = tmp_path / "gd-result.zip"
    out = fedaudit("node", "run-task", task_file, "--home", fed.home("gd"), "--out", bundle)
    assert "wrote" in out.stdout and bundle.exists()
    again = fedaudit("node", "run-task", task_file, "--home", fed.home("gd"), "--out",
                     tmp_path / "again.zip")  # the stored output again, not a second run
    assert again.returncode == 0
    assert node_events(fed, "gd", task.spec.task_id).count("task.executed") == 1
    kit = ["--kit", fed.kit("hq-lead"), "--coordinator", fed.address]
    imported = fedaudit("results", "import", bundle, *kit).stdout
    assert "node done" in imported
    status = fed.wait_final(task.spec.task_id)
    assert status.state == "complete"
    shown = fedaudit("results", "show", task.spec.task_id, *kit).stdout
    assert "receipt verified" in shown
    # A bundle whose output was altered no longer matches the node's receipt.
    import zipfile

    other = signed_task(fed, targets=("gd",))
    save_task(other, task_file)
    fedaudit("node", "run-task", task_file, "--home", fed.home("gd"), "--out", bundle)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "output.arrows":
                data = data[:-16] + bytes(16)
            dst.writestr(item, data)
    refused = fedaudit("results", "import", tampered, *kit, check=False)
    assert refused.returncode == 1 and "error:" in refused.stderr
