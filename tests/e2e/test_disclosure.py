"""Disclosure control across the federation: small cells, lower bounds, manual release."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.data import write_benefit_payments
from tests.e2e.harness import Federation, fedaudit
from tests.e2e.test_federation import signed_task

pytestmark = pytest.mark.slow

NODES = [("gd", "province", "440000"), ("gx", "province", "450000"),
         ("hn", "province", "460000")]
PERSONS = {"gd": 200, "gx": 200, "hn": 12}  # hn's cells fall under the threshold


@pytest.fixture()
def fed(tmp_path):
    federation = Federation(tmp_path, NODES)
    for seed, (node_id, _, region) in enumerate(NODES, start=1):
        data = write_benefit_payments(tmp_path / f"{node_id}.csv", region[:2] + "0100",
                                      PERSONS[node_id], seed)
        fedaudit("node", "ingest", "benefit_payment", data, "--home", federation.home(node_id))
    federation.start_coordinator()
    yield federation
    federation.stop()


def set_policy(fed: Federation, node_id: str, **changes: str) -> None:
    path = fed.home(node_id) / "policy.toml"
    text = path.read_text()
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)


def test_small_cells_are_suppressed_marked_and_make_national_totals_lower_bounds(fed):
    for node_id, _, _ in NODES:
        fed.start_node(node_id)
    fed.wait_connected(["gd", "gx", "hn"])
    task = signed_task(fed)
    with fed.client() as client:
        client.submit(task)
        assert fed.wait_final(task.spec.task_id).state == "complete"
        provenance, table = client.fetch_result(task.spec.task_id)
    rows = table.to_pylist()
    # Cells are per region (the province of the paying pool): hn's cells (460000) miss
    # hn's suppressed part, while gd's (440000) and gx's (450000) are complete.
    assert {r["region"] for r in rows} == {"440000", "450000", "460000"}
    for r in rows:
        small = r["region"] == "460000"
        assert r["lower_bound"] is small and r["suppressed_parts"] == int(small), r
    nodes = {n["node_id"]: n for n in provenance["nodes"]}
    hn = nodes["hn"]["disclosure"]
    assert hn["settings"]["disclosure"]["min_contributors"] == 10
    assert hn["suppressed"]["primary"] > 0
    assert nodes["gd"]["disclosure"]["suppressed"]["primary"] == 0
    # HQ's view shows the same marks: hn's cells are minima (its part is withheld, not guessed).
    shown = fedaudit("results", "show", task.spec.task_id, "--kit", fed.kit("hq-lead"),
                     "--coordinator", fed.address, "--json").stdout
    shown_rows = json.loads(shown)["rows"]
    assert {r["region"] for r in shown_rows} == {"440000", "450000", "460000"}
    assert all(r["lower_bound"] is (r["region"] == "460000") for r in shown_rows)


def test_a_province_sets_its_own_threshold_and_releases_by_hand(fed):
    set_policy(fed, "gx", **{"min_contributors = 10": "min_contributors = 20",
                             'aggregate = "auto"': 'aggregate = "manual"'})
    shown = fedaudit("node", "policy", "show", "--home", fed.home("gx")).stdout
    settings = dict(line.split(None, 1) for line in shown.splitlines())
    assert settings["disclosure.min_contributors"] == "20"
    assert settings["release.aggregate"] == "manual"
    for node_id in ("gd", "gx"):
        fed.start_node(node_id)
    fed.wait_connected(["gd", "gx"])
    kit = ["--kit", fed.kit("hq-lead"), "--coordinator", fed.address]
    assert "min_contributors = 20" in fedaudit("nodes", "--policies", *kit).stdout
    task = signed_task(fed, targets=("gd", "gx"))
    task_id = task.spec.task_id
    with fed.client() as client:
        client.submit(task)
        deadline = time.monotonic() + 30
        while {n.node_id: n.state for n in client.get(task_id).nodes}.get("gx") != "held":
            assert time.monotonic() < deadline, "gx never reported its output as held"
            time.sleep(0.2)
    home = ["--home", fed.home("gx")]
    assert task_id in fedaudit("node", "pending", *home).stdout
    preview = fedaudit("node", "preview", task_id, *home).stdout
    assert "scheme_code" in preview and "would leave" in preview
    fedaudit("node", "release", task_id, *home)
    assert fed.wait_final(task_id).state == "complete"
    assert "nothing waits" in fedaudit("node", "pending", *home).stdout
    log = fedaudit("node", "log", "show", *home, "--json").stdout
    assert "output.released" in log
    # Withholding: HQ sees the node failed, with the operator's reason.
    second = signed_task(fed, targets=("gx",))
    with fed.client() as client:
        client.submit(second)
    deadline = time.monotonic() + 30
    while second.spec.task_id not in fedaudit("node", "pending", *home).stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    fedaudit("node", "withhold", second.spec.task_id, *home, "--reason", "under review")
    status = fed.wait_final(second.spec.task_id)
    assert status.state == "failed" and "under review" in status.nodes[0].message
