"""The task store keeps everything across a restart and refuses files it did not write."""

from __future__ import annotations

import sqlite3

import pytest

from coordinator.store import SCHEMA_VERSION, StoreError, TaskStore, UnknownNode
from tests.coordinator_store.helpers import T0, add_task, report_done

CATALOG = [{"dataset": "benefit_payment", "snapshot_id": "s1", "rows": 120,
            "period_min": "2024-01-01", "period_max": "2024-06-01", "data_as_of": "2024-07-01"}]


def fill(store: TaskStore) -> None:
    """A store mid-flight: one finished task, one running with mixed deliveries, nodes."""
    store.record_hello("gd", CATALOG, "lib-1", "0.1.0", '{"min_contributors": 10}', T0)
    store.record_hello("gx", [], "lib-1", "0.1.0", "{}", T0 + 1)
    store.set_connected("gd", True, now=T0 + 2)
    add_task(store, "t1", ["gd"])
    report_done(store, "t1", "gd")
    store.finish_task("t1", "complete", "/r/t1.parquet", {"nodes": [{"node_id": "gd"}]})
    add_task(store, "t2", ["gd", "gx", "deaths"], submitted_at=T0 + 10)
    store.mark_delivered("t2", "gd")
    store.record_report("t2", "gx", "refused", refusal_code="EXPIRED", message="late")


def test_a_reopened_store_holds_everything_it_held(db_path):
    with TaskStore(db_path) as store:
        fill(store)
        before = (store.tasks(), store.nodes(), store.version)

    with TaskStore(db_path) as store:
        assert (store.tasks(), store.nodes(), store.version) == before
        # The counter goes on from where it was, so a watcher never sees a version twice.
        report_done(store, "t2", "gd")
        assert store.task("t2").version > before[2]
        # The delivered but unreported task is handed out again after the restart.
        assert store.pending_for("gd") == []
        assert [t for t, _ in store.pending_for("deaths")] == ["t2"]


def test_a_write_is_on_disk_when_the_call_returns(db_path):
    with TaskStore(db_path) as store:
        fill(store)
        # A second, independent connection sees the committed writes at once.
        other = sqlite3.connect(db_path)
        try:
            rows = other.execute("SELECT task_id, node_id, state FROM deliveries "
                                 "ORDER BY task_id, node_id").fetchall()
        finally:
            other.close()
    assert rows == [("t1", "gd", "done"), ("t2", "deaths", "pending"),
                    ("t2", "gd", "delivered"), ("t2", "gx", "refused")]


def test_the_schema_version_is_recorded_once(db_path):
    TaskStore(db_path).close()
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() == [
            (SCHEMA_VERSION,)]
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        con.close()


def test_a_store_of_another_schema_version_is_refused(db_path):
    TaskStore(db_path).close()
    con = sqlite3.connect(db_path)
    con.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="schema version 99"):
        TaskStore(db_path)


def test_a_file_that_is_not_a_task_store_is_refused(tmp_path):
    garbage = tmp_path / "coordinator.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a coordinator task store"):
        TaskStore(garbage)

    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE something (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a coordinator task store"):
        TaskStore(other)


def test_a_closed_store_says_so(db_path):
    store = TaskStore(db_path)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.tasks()
    store.close()


def test_hello_replaces_what_the_node_said_before(store):
    store.record_hello("gd", CATALOG, "lib-1", "0.1.0", "{}", T0)
    store.record_hello("gd", [], "lib-2", "0.2.0", '{"a": 1}', T0 + 50)
    (node,) = store.nodes()
    assert (node.node_id, node.catalog, node.library_digest, node.software_version,
            node.policy_json, node.hello_at, node.last_seen) == (
        "gd", (), "lib-2", "0.2.0", '{"a": 1}', T0 + 50, T0 + 50)
    assert store.node("gx") is None


def test_the_catalog_round_trips(store):
    store.record_hello("gd", CATALOG, "lib-1", "0.1.0", "{}", T0)
    assert list(store.node("gd").catalog) == CATALOG


def test_a_node_is_connected_while_any_of_its_streams_is_open(store):
    store.record_hello("gd", [], "lib", "0.1.0", "{}", T0)
    assert not store.node("gd").connected
    store.set_connected("gd", True)
    store.set_connected("gd", True)  # a reconnect opened before the old stream closed
    store.set_connected("gd", False)
    assert store.node("gd").connected
    store.set_connected("gd", False)
    store.set_connected("gd", False)  # one close too many never goes below zero
    assert store.node("gd").connections == 0
    store.set_connected("gd", True)
    store.disconnect_all()
    assert not store.node("gd").connected


def test_last_seen_only_moves_forward(store):
    store.record_hello("gd", [], "lib", "0.1.0", "{}", T0)
    store.mark_seen("gd", T0 + 30)
    store.mark_seen("gd", T0 + 10)
    assert store.node("gd").last_seen == T0 + 30


def test_a_node_must_say_hello_first(store):
    with pytest.raises(UnknownNode, match="Hello"):
        store.mark_seen("gd", T0)
    with pytest.raises(UnknownNode):
        store.set_connected("gd", True)
    assert store.nodes() == []
