"""Sharing at a real coordinator (in process): grants enforced on every read, and logged.

The coordinator, its SQLite store, its result files, the kits and the signatures are all
real; only the network is left out (tests/sharing/test_e2e.py adds it).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pyarrow as pa
import pytest

from coordinator.errors import CoordinatorError
from coordinator.service import Coordinator
from node.audit_log import AuditLogBroken
from tests.sharing.helpers import (
    NODE_REGIONS,
    classification_json,
    finished_result,
    grant_json,
    per_node_table,
    read_table,
)


def read(coordinator, who, task_id, now=None):
    provenance, chunks = coordinator.sharing.read(who, task_id, now=now)
    return json.loads(provenance), read_table(chunks)


def refused(call, *args, **kwargs) -> CoordinatorError:
    with pytest.raises(CoordinatorError) as caught:
        call(*args, **kwargs)
    assert str(caught.value)
    return caught.value


def log_entries(coordinator) -> list[dict]:
    return list(coordinator.sharing.access_log.log.entries())


@pytest.fixture
def task_id(coordinator, share_fed):
    return finished_result(coordinator, share_fed, per_node_table())


def share(coordinator, share_fed, task_id, **kwargs):
    return coordinator.sharing.share("hq-lead", grant_json(share_fed, task_id,
                                                           **kwargs))


def test_an_office_without_a_grant_is_refused_and_the_refusal_is_logged(coordinator, task_id):
    error = refused(read, coordinator, "office-south", task_id)
    assert error.code == "FORBIDDEN"
    # An unknown task gives the same answer: an office learns nothing of what exists.
    assert refused(read, coordinator, "office-south", "f" * 32).code == "FORBIDDEN"
    entry = log_entries(coordinator)[0]
    assert (entry["event"], entry["who"], entry["task_id"], entry["code"]) == (
        "result.refused", "office-south", task_id, "FORBIDDEN")


def test_a_region_limited_grant_gives_exactly_the_rows_of_its_regions(coordinator, share_fed,
                                                                      task_id):
    grant = share(coordinator, share_fed, task_id, regions=("44", "45", "46"))
    _, full = read(coordinator, "hq-lead", task_id)
    provenance, got = read(coordinator, "office-south", task_id)
    inside = [r for r in full.to_pylist() if NODE_REGIONS[r["node"]][:2] in ("44", "45", "46")]
    assert got.to_pylist() == inside
    assert len(inside) == 6 and full.num_rows == 8
    assert provenance["rows"] == 6
    assert {n["node_id"] for n in provenance["nodes"]} == {"gd", "gx", "hn"}
    assert provenance["shared"]["grants"] == [grant.grant_id]
    assert "submitted_by" not in provenance
    reads = [e for e in log_entries(coordinator) if e["event"] == "result.read"]
    assert [(e["who"], e["role"], e["grant"], e["rows"]) for e in reads] == [
        ("hq-lead", "issuer", "owner", 8), ("office-south", "office", grant.grant_id, 6)]
    assert reads[1]["regions"] == ["44", "45", "46"]


def test_two_grants_give_the_union_of_their_regions(coordinator, share_fed, task_id):
    share(coordinator, share_fed, task_id, regions=("44",))
    share(coordinator, share_fed, task_id, regions=("330000",))
    _, got = read(coordinator, "office-south", task_id)
    assert sorted(set(got.column("node").to_pylist())) == ["gd", "zj"]


def test_an_issuer_who_is_not_the_owner_reads_as_hq(coordinator, task_id):
    _, table = read(coordinator, "hq-analyst", task_id)
    assert table.num_rows == 8
    assert log_entries(coordinator)[-1]["grant"] == "issuer"


def test_a_grant_that_expired_since_it_was_made_is_refused(coordinator, share_fed, task_id):
    grant = share(coordinator, share_fed, task_id, lifetime=dt.timedelta(hours=1))
    assert read(coordinator, "office-south", task_id)[1].num_rows == 8
    error = refused(read, coordinator, "office-south", task_id, now=grant.expires_at)
    assert error.code == "EXPIRED" and "expired" in str(error)


def test_an_expired_grant_is_refused_when_submitted(coordinator, share_fed, task_id):
    stale = grant_json(share_fed, task_id, now=time.time() - 7200,
                       lifetime=dt.timedelta(hours=1))
    assert refused(coordinator.sharing.share, "hq-lead", stale).code == "EXPIRED"
    assert coordinator.store.grants() == []


def test_a_grant_not_signed_by_the_owner_is_refused(coordinator, share_fed, task_id):
    by_other = grant_json(share_fed, task_id, signers=("hq-analyst",),
                          issued_by="hq-analyst")
    assert refused(coordinator.sharing.share, "hq-analyst", by_other).code == "FORBIDDEN"
    claims_owner = grant_json(share_fed, task_id, signers=("hq-analyst",))
    assert refused(coordinator.sharing.share, "hq-analyst", claims_owner).code == "FORBIDDEN"


def test_a_forged_grant_is_refused_and_one_forged_in_the_store_stops_at_the_read(
        coordinator, share_fed, task_id):
    good = json.loads(grant_json(share_fed, task_id, regions=("44",)))
    payload = json.loads(base64.b64decode(good["payload_b64"]))
    payload["regions"] = []
    good["grant"] = payload
    good["payload_b64"] = base64.b64encode(
        json.dumps(payload, sort_keys=True).encode()).decode()
    forged = json.dumps(good).encode()
    assert refused(coordinator.sharing.share, "hq-lead", forged).code == "BAD_SIGNATURE"
    # Someone with write access to the database inserts the forged grant directly.
    coordinator.store.add_grant(
        grant_id=payload["grant_id"], task_id=task_id, office_id="office-south",
        purpose="x", parts="aggregate", regions=[], not_before=0, expires_at=2**40,
        issued_by="hq-lead", signers=["hq-lead"], document=forged.decode())
    assert refused(read, coordinator, "office-south", task_id).code == "BAD_SIGNATURE"


def test_a_revoked_grant_stops_working_at_once(coordinator, share_fed, task_id):
    grant = share(coordinator, share_fed, task_id)
    read(coordinator, "office-south", task_id)
    assert refused(coordinator.sharing.revoke, "hq-analyst", grant.grant_id).code == "FORBIDDEN"
    coordinator.sharing.revoke("hq-lead", grant.grant_id, "audit closed")
    error = refused(read, coordinator, "office-south", task_id)
    assert error.code == "FORBIDDEN" and "revoked by hq-lead" in str(error)
    assert coordinator.sharing.grants("hq-lead", task_id)[0].revoked_by == "hq-lead"


def test_an_approver_may_revoke_any_grant(coordinator, share_fed, task_id):
    grant = share(coordinator, share_fed, task_id)
    assert coordinator.sharing.revoke("hq-approver", grant.grant_id).revoked_by == "hq-approver"


def test_a_confidential_result_needs_an_approver_on_every_grant(coordinator, share_fed,
                                                                task_id):
    before = share(coordinator, share_fed, task_id)
    info = coordinator.sharing.classify("hq-lead", classification_json(
        share_fed, task_id, "confidential", "hq-lead"))
    assert info.classification == "confidential"
    # The grant made while the result was internal no longer suffices.
    assert refused(read, coordinator, "office-south", task_id).code == "FORBIDDEN"
    lone = grant_json(share_fed, task_id)
    assert refused(coordinator.sharing.share, "hq-lead", lone).code == "FORBIDDEN"
    after = share(coordinator, share_fed, task_id, signers=("hq-lead", "hq-approver"))
    provenance, _ = read(coordinator, "office-south", task_id)
    assert provenance["shared"]["grants"] == [after.grant_id]
    assert before.grant_id != after.grant_id


def test_lowering_a_confidential_result_needs_an_approver_and_no_replay(coordinator, share_fed,
                                                                       task_id):
    early = classification_json(share_fed, task_id, "restricted", "hq-lead",
                                "hq-approver", now=time.time() - 60)
    coordinator.sharing.classify("hq-lead", classification_json(
        share_fed, task_id, "confidential", "hq-lead"))
    lower = classification_json(share_fed, task_id, "internal", "hq-lead")
    assert refused(coordinator.sharing.classify, "hq-lead", lower).code == "FORBIDDEN"
    assert refused(coordinator.sharing.classify, "hq-lead", early).code == "INVALID_REQUEST"
    assert coordinator.sharing.classification(task_id) == "confidential"


def test_a_region_limited_grant_on_a_result_without_region_gives_nothing(coordinator,
                                                                          share_fed):
    task_id = finished_result(coordinator, share_fed,
                              pa.table({"scheme_code": ["110"], "persons": [40]}))
    share(coordinator, share_fed, task_id, regions=("44",))
    error = refused(read, coordinator, "office-south", task_id)
    assert error.code == "FORBIDDEN" and "no region column" in str(error)


def test_a_grant_of_the_aggregate_part_gives_nothing_of_a_flags_result(coordinator,
                                                                       share_fed):
    task_id = finished_result(coordinator, share_fed, per_node_table(), kind="flags")
    share(coordinator, share_fed, task_id, parts="aggregate")
    assert "--parts flags" in str(refused(read, coordinator, "office-south", task_id))
    share(coordinator, share_fed, task_id, parts="flags")
    assert read(coordinator, "office-south", task_id)[1].num_rows == 8


def test_a_running_task_is_not_ready_for_anyone(coordinator, share_fed):
    task_id = finished_result(coordinator, share_fed, per_node_table(), finish=False)
    share(coordinator, share_fed, task_id)
    assert refused(read, coordinator, "hq-lead", task_id).code == "NOT_READY"
    assert refused(read, coordinator, "office-south", task_id).code == "NOT_READY"


def test_every_access_is_in_a_log_whose_tampering_is_detected(coordinator, share_fed,
                                                              task_id):
    share(coordinator, share_fed, task_id, regions=("44",))
    read(coordinator, "office-south", task_id)
    read(coordinator, "hq-lead", task_id)
    log = coordinator.sharing.access_log.log
    assert log.verify() == 3
    lines = log.path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"rows":2', b'"rows":1')
    log.path.write_bytes(b"".join(lines))
    with pytest.raises(AuditLogBroken) as caught:
        log.verify()
    assert caught.value.line_no == 2
    # A coordinator opening the damaged log releases nothing until an operator acts.
    restarted = Coordinator(coordinator.home)
    try:
        error = refused(read, restarted, "hq-lead", task_id)
        assert error.code == "NOT_READY" and "access-log verify" in str(error)
    finally:
        restarted.close()


def test_a_log_cut_at_its_end_stops_reads_at_once(coordinator, task_id):
    read(coordinator, "hq-lead", task_id)
    read(coordinator, "hq-lead", task_id)
    log = coordinator.sharing.access_log.log
    lines = log.path.read_bytes().splitlines(keepends=True)
    log.path.write_bytes(lines[0])
    assert refused(read, coordinator, "hq-lead", task_id).code == "NOT_READY"


def test_a_reshare_request_is_approved_with_a_signed_grant(coordinator, share_fed, task_id):
    sharing = coordinator.sharing
    ask = dict(task_id=task_id, for_office="office-north", purpose="joint audit",
               parts="aggregate", regions=["45"], duration_seconds=3600)
    assert refused(sharing.request_share, "office-south", **ask).code == "FORBIDDEN"
    share(coordinator, share_fed, task_id)
    request = sharing.request_share("office-south", **ask)
    assert request.state == "pending"
    assert sharing.requests("office-north") == []
    assert [r.request_id for r in sharing.requests("hq-lead", task_id)] == [request.request_id]
    grant = grant_json(share_fed, task_id, office="office-north", regions=("45",),
                       request_id=request.request_id)
    assert refused(sharing.decide, "hq-analyst", request.request_id, True, grant).code == \
        "FORBIDDEN"
    decided = sharing.decide("hq-lead", request.request_id, True, grant)
    assert decided.state == "approved" and decided.grant_id
    _, rows = read(coordinator, "office-north", task_id)
    assert rows.column("node").to_pylist() == ["gx", "gx"]
    assert refused(sharing.decide, "hq-lead", request.request_id, False, reason="no").code == \
        "INVALID_REQUEST"


def test_a_reshare_request_can_be_declined(coordinator, share_fed, task_id):
    share(coordinator, share_fed, task_id)
    request = coordinator.sharing.request_share(
        "office-south", task_id=task_id, for_office="office-north", purpose="joint",
        parts="all", regions=[], duration_seconds=60)
    decided = coordinator.sharing.decide("hq-lead", request.request_id, False,
                                         reason="not needed")
    assert (decided.state, decided.reason) == ("declined", "not needed")
    assert refused(read, coordinator, "office-north", task_id).code == "FORBIDDEN"
    assert log_entries(coordinator)[-2]["event"] == "share.declined"


def test_a_grant_approving_no_request_cannot_approve_one(coordinator, share_fed, task_id):
    share(coordinator, share_fed, task_id)
    request = coordinator.sharing.request_share(
        "office-south", task_id=task_id, for_office="office-north", purpose="joint",
        parts="all", regions=[], duration_seconds=60)
    plain = grant_json(share_fed, task_id, office="office-north")
    error = refused(coordinator.sharing.decide, "hq-lead", request.request_id, True, plain)
    assert error.code == "INVALID_REQUEST"
    assert coordinator.store.share_request(request.request_id).state == "pending"


def test_listings_show_each_caller_only_what_it_may_see(coordinator, share_fed, task_id):
    other = finished_result(coordinator, share_fed, per_node_table())
    mine = share(coordinator, share_fed, task_id)
    coordinator.sharing.share("hq-lead", grant_json(share_fed, task_id,
                                                    office="office-north"))
    hq = {r.task_id: r for r in coordinator.sharing.results("hq-lead")}
    assert set(hq) == {task_id, other} and len(hq[task_id].grants) == 2
    assert hq[task_id].purpose == "AUD-2025-07 · sharing tests" and hq[task_id].rows == 8
    office = coordinator.sharing.results("office-south")
    assert [r.task_id for r in office] == [task_id]
    assert [g.grant_id for g in office[0].grants] == [mine.grant_id]
    assert [g.grant_id for g in coordinator.sharing.grants("office-south", task_id)] == [
        mine.grant_id]
    assert coordinator.sharing.grants("office-south", other) == []
