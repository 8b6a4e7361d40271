"""Sharing end to end: a real coordinator and four real province nodes over mutual TLS.

HQ runs the data-quality model nationwide (one block of rows per node), shares it with
a regional office for its three provinces, and the office reads exactly those rows; every
refusal the issue names is checked against the running coordinator, and every access is
found in its hash-chained access log.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest

from certs import load_kit
from coordinator import CoordinatorError
from coordinator.client import PeopleClient
from tests.e2e.data import write_benefit_payments
from tests.e2e.harness import Federation, fedaudit
from tests.sharing.helpers import NODE_REGIONS, SPEC, grant_json

pytestmark = pytest.mark.slow

SOUTH = ("44", "45", "46")  # the regional office's three provinces


class ShareFederation(Federation):
    """The harness' federation, provisioned from the sharing tests' spec (two offices)."""

    def __init__(self, root):  # the steps of Federation.__init__, with another spec
        self.root = root
        spec = root / "share.toml"
        spec.write_text(SPEC)
        self.kits = root / "fed"
        fedaudit("certs", "provision", spec, "--out", self.kits)
        self.coordinator_home = root / "coordinator"
        fedaudit("coordinator", "init", "--kit", self.kits / "coordinator", "--home",
                 self.coordinator_home)
        self.node_ids = list(NODE_REGIONS)
        for node_id in self.node_ids:
            fedaudit("node", "init", "--kit", self.kits / node_id, "--home", self.home(node_id))
        self.coordinator, self.nodes, self.address = None, {}, None


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    root = tmp_path_factory.mktemp("share-e2e")
    federation = ShareFederation(root)
    for seed, (node_id, region) in enumerate(NODE_REGIONS.items(), start=1):
        data = write_benefit_payments(root / f"{node_id}.csv", region[:2] + "0100", 30, seed)
        fedaudit("node", "ingest", "benefit_payment", data, "--home", federation.home(node_id))
    federation.start_coordinator()
    for node_id in NODE_REGIONS:
        federation.start_node(node_id)
    federation.wait_connected(list(NODE_REGIONS))
    yield federation
    federation.stop()


def cli(fed, who, *args, code=0):
    result = fedaudit(*args, "--kit", fed.kit(who), "--coordinator", fed.address, check=False)
    assert result.returncode == code, result.stderr
    return result


@pytest.fixture(scope="module")
def task_id(fed, tmp_path_factory):
    """HQ runs dq.dataset_quality nationwide as a new user would, with the CLI."""
    task = tmp_path_factory.mktemp("task") / "dq.json"
    fedaudit("task", "new", "dq.dataset_quality", "--param", "as_of=2024-06-30", "--target",
             "level=province", "--purpose", "data quality before the pension audit",
             "--project", "AUD-2025-07", "--kit", fed.kit("hq-lead"), "--out", task)
    fedaudit("task", "sign", task, "--kit", fed.kit("hq-lead"))
    submitted = cli(fed, "hq-lead", "task", "submit", task)
    task_id = submitted.stdout.split()[2]
    assert "complete" in cli(fed, "hq-lead", "task", "watch", task_id).stdout
    return task_id


def office(fed, who="office-south") -> PeopleClient:
    return PeopleClient(load_kit(fed.kit(who)), fed.address)


def refused(fed, task_id, who="office-south") -> CoordinatorError:
    with office(fed, who) as client, pytest.raises(CoordinatorError) as caught:
        client.fetch_result(task_id)
    return caught.value


def share(fed, task_id, **kwargs):
    with fed.client() as client:
        return client.share(grant_json(fed.kits, task_id, **kwargs))


def test_a_new_user_shares_reads_exports_and_revokes(fed, task_id, tmp_path):
    shared = cli(fed, "hq-lead", "results", "share", task_id, "--with", "office-south",
                 "--purpose", "follow-up in the southern provinces", "--expires", "30d",
                 "--regions", ",".join(SOUTH), "--parts", "aggregate").stdout
    grant_id = shared.split("grant ")[1].split(",")[0]
    listed = cli(fed, "office-south", "results", "list").stdout
    assert task_id in listed and "dq.dataset_quality" in listed
    shown = json.loads(cli(fed, "office-south", "results", "show", task_id, "--json").stdout)
    full = json.loads(cli(fed, "hq-lead", "results", "show", task_id, "--json").stdout)
    inside = [r for r in full["rows"] if NODE_REGIONS[r["node"]][:2] in SOUTH]
    assert shown["rows"] == inside and len(inside) < len(full["rows"])
    assert set(shown["receipts"]) == {"gd", "gx", "hn"}  # receipts of its provinces only
    assert set(shown["receipts"].values()) == {"verified"}
    cli(fed, "office-south", "results", "export", task_id, "--format", "parquet", "--out",
        tmp_path / "south.parquet")
    assert (tmp_path / "south.parquet").stat().st_size > 0
    assert grant_id in cli(fed, "hq-lead", "results", "grants", task_id).stdout
    cli(fed, "hq-lead", "results", "revoke", grant_id, "--reason", "follow-up finished")
    after = cli(fed, "office-south", "results", "show", task_id, code=1)
    assert f"grant {grant_id} was revoked by hq-lead" in after.stderr
    assert after.stderr.startswith("error: ") and after.stderr.count("\n") == 1


def test_an_office_without_a_grant_is_refused(fed, task_id):
    assert refused(fed, task_id, "office-north").code == "FORBIDDEN"


def test_a_region_limited_grant_gives_only_those_rows(fed, task_id):
    share(fed, task_id, office="office-north", regions=("330000",))
    with fed.client() as hq:
        _, full = hq.fetch_result(task_id)
    with office(fed, "office-north") as client:
        provenance, table = client.fetch_result(task_id)
    assert table.to_pylist() == [r for r in full.to_pylist() if r["node"] == "zj"]
    assert [n["node_id"] for n in provenance["nodes"]] == ["zj"]


def test_an_expired_grant_is_refused(fed, task_id):
    stale = grant_json(fed.kits, task_id, office="office-west", now=time.time() - 7200,
                       lifetime=dt.timedelta(hours=1))
    with fed.client() as client, pytest.raises(CoordinatorError) as caught:
        client.share(stale)
    assert caught.value.code == "EXPIRED"
    grant = share(fed, task_id, office="office-west", lifetime=dt.timedelta(seconds=3))
    with office(fed, "office-west") as client:
        assert client.fetch_result(task_id)[1].num_rows
    while time.time() < grant.expires_unix + 1:
        time.sleep(0.2)
    error = refused(fed, task_id, "office-west")
    assert error.code == "EXPIRED" and grant.grant_id in str(error)


def test_a_forged_or_non_owner_grant_is_refused(fed, task_id):
    document = json.loads(grant_json(fed.kits, task_id))
    signature = bytearray(base64.b64decode(document["signatures"][0]["signature"]))
    signature[0] ^= 1
    document["signatures"][0]["signature"] = base64.b64encode(bytes(signature)).decode()
    with fed.client() as client, pytest.raises(CoordinatorError) as caught:
        client.share(json.dumps(document).encode())
    assert caught.value.code == "BAD_SIGNATURE"
    by_other = grant_json(fed.kits, task_id, signers=("hq-analyst",), issued_by="hq-analyst")
    with fed.client("hq-analyst") as client, pytest.raises(CoordinatorError) as caught:
        client.share(by_other)
    assert caught.value.code == "FORBIDDEN" and "only the owner" in str(caught.value)


def test_each_access_is_logged_and_tampering_is_detected(fed, task_id):
    fedaudit("coordinator", "access-log", "verify", "--home", fed.coordinator_home)
    shown = fedaudit("coordinator", "access-log", "show", "--home", fed.coordinator_home,
                     "--json").stdout
    entries = [json.loads(line) for line in shown.splitlines()]
    reads = [e for e in entries if e["event"] == "result.read" and e["task_id"] == task_id]
    assert {(e["who"], e["role"]) for e in reads} >= {("hq-lead", "issuer"),
                                                     ("office-south", "office"),
                                                     ("office-north", "office")}
    assert all(e["grant"] != "owner" for e in reads if e["role"] == "office")
    refusals = [e for e in entries if e["event"] == "result.refused"]
    assert {e["code"] for e in refusals} >= {"FORBIDDEN"}
    log = fed.coordinator_home / "access.log"
    lines = log.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"event":"', b'"event":"x', 1)
    log.write_bytes(b"".join(lines))
    broken = fedaudit("coordinator", "access-log", "verify", "--home", fed.coordinator_home,
                      check=False)
    assert broken.returncode == 1 and "broken at line 1" in broken.stderr
