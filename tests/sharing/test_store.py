"""The task store's sharing tables: grants, revocation, requests, and the schema migration."""

from __future__ import annotations

import sqlite3

import pytest

from coordinator._grants import DuplicateGrant, UnknownGrant
from coordinator.store import SCHEMA_VERSION, StoreError, TaskStore, UnknownTask
from tests.coordinator_store.helpers import T0, add_task


@pytest.fixture
def store(tmp_path):
    with TaskStore(tmp_path / "coordinator.db") as opened:
        add_task(opened, "t1", ["gd", "gx"])
        yield opened


def add_grant(store, grant_id="a" * 16, task_id="t1", office="office-south", **extra):
    return store.add_grant(grant_id=grant_id, task_id=task_id, office_id=office,
                           purpose="follow-up", parts="aggregate", regions=["44"],
                           not_before=T0, expires_at=T0 + 100, issued_by="hq-lead",
                           signers=["hq-lead"], document="{}", now=T0, **extra)


def add_request(store, request_id="r1", for_office="office-north"):
    return store.add_share_request(request_id=request_id, task_id="t1",
                                   requested_by="office-south", for_office=for_office,
                                   purpose="joint audit", parts="aggregate", regions=["45"],
                                   duration_seconds=3600, now=T0)


def test_a_grant_is_stored_listed_and_revoked(store):
    grant = add_grant(store)
    assert (grant.task_id, grant.office_id, grant.regions, grant.signers) == (
        "t1", "office-south", ("44",), ("hq-lead",))
    assert [g.grant_id for g in store.grants(task_id="t1")] == [grant.grant_id]
    assert store.grants(office_id="office-north") == []
    assert grant.state(T0 + 1) == "active" and grant.state(T0 + 100) == "expired"
    assert grant.state(T0 - 1) == "scheduled"
    revoked = store.revoke_grant(grant.grant_id, "hq-lead", "audit closed", now=T0 + 5)
    assert (revoked.revoked_at, revoked.revoked_by, revoked.revoke_reason) == (
        T0 + 5, "hq-lead", "audit closed")
    assert revoked.state(T0 + 6) == "revoked"
    with pytest.raises(StoreError, match="already revoked"):
        store.revoke_grant(grant.grant_id, "hq-lead")


def test_a_grant_id_is_stored_once_and_needs_a_known_task(store):
    add_grant(store)
    with pytest.raises(DuplicateGrant):
        add_grant(store)
    with pytest.raises(UnknownTask):
        add_grant(store, grant_id="b" * 16, task_id="nope")
    with pytest.raises(UnknownGrant):
        store.revoke_grant("c" * 16, "hq-lead")


def test_approving_a_request_stores_the_grant_in_the_same_transaction(store):
    add_request(store)
    with pytest.raises(StoreError, match="the grant must say the same"):
        add_grant(store, request_id="r1")  # the request is for office-north
    assert store.grants() == []
    assert store.share_request("r1").state == "pending"
    add_grant(store, office="office-north", request_id="r1", decided_by="hq-lead")
    request = store.share_request("r1")
    assert (request.state, request.grant_id, request.decided_by) == (
        "approved", "a" * 16, "hq-lead")
    with pytest.raises(StoreError, match="already approved"):
        store.decline_share_request("r1", "hq-lead", "late")


def test_a_declined_request_keeps_its_reason(store):
    add_request(store)
    add_request(store, "r2")
    declined = store.decline_share_request("r1", "hq-lead", "not needed", now=T0 + 9)
    assert (declined.state, declined.reason, declined.decided_at) == (
        "declined", "not needed", T0 + 9)
    assert [r.request_id for r in store.share_requests(requested_by="office-south")] == [
        "r1", "r2"]
    assert store.share_requests(task_id="other") == []


def test_classification_is_replaced_by_the_newest(store):
    assert store.result_meta("t1") is None
    store.set_classification("t1", "restricted", "{doc1}", "hq-lead", now=T0)
    store.set_classification("t1", "confidential", "{doc2}", "hq-lead", now=T0 + 1)
    meta = store.result_meta("t1")
    assert (meta.classification, meta.document, meta.set_at) == ("confidential", "{doc2}", T0 + 1)
    with pytest.raises(sqlite3.IntegrityError):
        store.set_classification("t1", "secret", "{}", "hq-lead")


def test_a_version_1_store_is_migrated_and_keeps_its_tasks(tmp_path):
    path = tmp_path / "old.db"
    with TaskStore(path) as store:
        add_task(store, "t1", ["gd"])
    con = sqlite3.connect(path)
    for table in ("result_meta", "grants", "share_requests", "key_envelopes", "returns",
                  "verification_reports"):
        con.execute(f"DROP TABLE {table}")
    con.execute("UPDATE meta SET value = 1 WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with TaskStore(path) as store:
        assert store.task("t1") is not None
        add_grant(store)
        assert len(store.grants()) == 1
    con = sqlite3.connect(path)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        SCHEMA_VERSION,)
    con.close()
