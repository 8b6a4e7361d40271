"""The task store's state machine: deliveries, reports, deadlines and finishing a task."""

from __future__ import annotations

import pytest

from coordinator.store import DuplicateTask, StoreError, TaskStore, UnknownTask
from tests.coordinator_store.helpers import DEADLINE, T0, add_task, report_done


def states(store: TaskStore, task_id: str) -> dict[str, str]:
    return {d.node_id: d.state for d in store.task(task_id).deliveries}


def test_a_new_task_is_running_with_one_pending_delivery_per_target(store):
    add_task(store, "t1", ["gx", "gd", "gx"])

    task = store.task("t1")
    assert task.state == "running" and task.open
    assert task.analysis == "fund.benefit_summary@1.0.0"
    assert task.signed_task == b"signed:t1"
    assert (task.deadline, task.submitted_at, task.submitted_by) == (DEADLINE, T0, "hq-lead")
    assert states(store, "t1") == {"gd": "pending", "gx": "pending"}
    assert [d.updated_at for d in task.deliveries] == [T0, T0]


def test_a_known_task_id_is_refused_and_the_first_task_kept(store):
    add_task(store, "t1", ["gd"])
    with pytest.raises(DuplicateTask, match="already submitted"):
        add_task(store, "t1", ["gx"])
    assert states(store, "t1") == {"gd": "pending"}
    assert [t.task_id for t in store.tasks()] == ["t1"]


def test_a_task_without_targets_is_refused(store):
    with pytest.raises(StoreError, match="no target"):
        add_task(store, "t1", [])
    assert store.task("t1") is None


def test_an_unknown_task_reads_as_none_and_its_writes_raise(store):
    assert store.task("nope") is None
    with pytest.raises(UnknownTask):
        store.mark_missing("nope")
    with pytest.raises(UnknownTask):
        store.finish_task("nope", "failed", None, {})
    with pytest.raises(StoreError, match="no delivery"):
        store.mark_delivered("nope", "gd")


def test_every_target_done_completes_the_task(store):
    add_task(store, "t1", ["gd", "gx"])
    store.mark_delivered("t1", "gd")
    store.mark_delivered("t1", "gx")
    assert states(store, "t1") == {"gd": "delivered", "gx": "delivered"}
    assert store.ready_to_combine(T0 + 1) == []

    report_done(store, "t1", "gd", rows=2)
    assert store.ready_to_combine(T0 + 1) == []
    report_done(store, "t1", "gx", rows=5)
    assert store.ready_to_combine(T0 + 1) == ["t1"]

    task = store.task("t1")
    assert task.settled and task.outcome == "complete"
    gd = task.delivery("gd")
    assert (gd.rows, gd.partial_path, gd.snapshots) == (2, "/results/t1/gd", ("gd-snap-1",))
    assert gd.disclosure == {"suppressed": 1, "min_contributors": 10}
    assert gd.receipt == b'{"task_id": "t1"}' and gd.receipt_signature == b"\x01" * 64

    store.finish_task("t1", "complete", "/results/t1/result.parquet", {"rows": 7}, now=T0 + 90)
    task = store.task("t1")
    assert (task.state, task.result_path, task.provenance) == (
        "complete", "/results/t1/result.parquet", {"rows": 7})
    assert task.finished_at == T0 + 90 and not task.open
    assert store.ready_to_combine(T0 + 1) == []


def test_a_refusal_and_a_failure_make_the_task_partial(store):
    add_task(store, "t1", ["deaths", "gd", "gx"])
    report_done(store, "t1", "gd")
    store.record_report("t1", "gx", "refused", refusal_code="EXPIRED", message="too late")
    store.record_report("t1", "deaths", "failed", message="out of memory")

    task = store.task("t1")
    assert task.outcome == "partial"
    assert (task.delivery("gx").refusal_code, task.delivery("gx").message) == (
        "EXPIRED", "too late")
    assert task.delivery("deaths").message == "out of memory"
    with pytest.raises(StoreError, match="make it partial, not complete"):
        store.finish_task("t1", "complete", "/r.parquet", {})
    store.finish_task("t1", "partial", "/r.parquet", {})
    assert store.task("t1").state == "partial"


def test_no_done_report_fails_the_task(store):
    add_task(store, "t1", ["gd", "gx"])
    store.record_report("t1", "gd", "refused", refusal_code="BAD_SIGNATURE")
    store.record_report("t1", "gx", "refused", refusal_code="BAD_SIGNATURE")
    assert store.task("t1").outcome == "failed"
    with pytest.raises(StoreError, match="make it failed, not partial"):
        store.finish_task("t1", "partial", "/r.parquet", {})
    store.finish_task("t1", "failed", None, {"nodes": []}, message="every node refused")
    task = store.task("t1")
    assert (task.state, task.result_path, task.message) == ("failed", None,
                                                            "every node refused")


def test_a_finished_task_cannot_be_finished_again(store):
    add_task(store, "t1", ["gd"])
    report_done(store, "t1", "gd")
    store.finish_task("t1", "complete", "/r.parquet", {})
    with pytest.raises(StoreError, match="already finished as complete"):
        store.finish_task("t1", "failed", None, {})
    assert store.task("t1").state == "complete"


def test_a_task_waiting_for_a_node_cannot_be_finished(store):
    add_task(store, "t1", ["gd", "gx"])
    report_done(store, "t1", "gd")
    with pytest.raises(StoreError, match="still waits for gx"):
        store.finish_task("t1", "failed", None, {})
    assert store.task("t1").state == "running"


def test_unacknowledged_deliveries_are_handed_out_again(store):
    add_task(store, "t1", ["gd"], submitted_at=T0)
    add_task(store, "t2", ["gd", "gx"], submitted_at=T0 + 5)
    add_task(store, "t3", ["gx"], submitted_at=T0 + 9)
    assert store.pending_for("gd") == [("t1", b"signed:t1"), ("t2", b"signed:t2")]

    store.mark_delivered("t1", "gd")
    store.mark_delivered("t2", "gd")
    # The stream broke before any report: a reconnecting node gets both again.
    assert [t for t, _ in store.pending_for("gd")] == ["t1", "t2"]

    report_done(store, "t1", "gd")
    assert [t for t, _ in store.pending_for("gd")] == ["t2"]
    assert [t for t, _ in store.pending_for("gx")] == ["t2", "t3"]
    assert store.pending_for("deaths") == []


def test_a_finished_task_is_not_delivered_any_more(store):
    add_task(store, "t1", ["gd", "gx"])
    store.mark_delivered("t1", "gx")
    report_done(store, "t1", "gd")
    store.mark_missing("t1")
    store.finish_task("t1", "partial", "/r.parquet", {})
    assert store.pending_for("gx") == []


def test_mark_delivered_leaves_a_report_that_overtook_it(store):
    add_task(store, "t1", ["gd"])
    report_done(store, "t1", "gd")
    store.mark_delivered("t1", "gd")
    assert states(store, "t1") == {"gd": "done"}


def test_the_same_report_twice_is_stored_once(store):
    add_task(store, "t1", ["gd"])
    assert report_done(store, "t1", "gd", rows=4) is True
    version = store.task("t1").version
    assert report_done(store, "t1", "gd", rows=99) is False
    task = store.task("t1")
    assert task.delivery("gd").rows == 4 and task.version == version


def test_a_second_different_report_is_refused(store):
    add_task(store, "t1", ["gd"])
    report_done(store, "t1", "gd")
    with pytest.raises(StoreError, match="already reported task t1 as done"):
        store.record_report("t1", "gd", "refused", refusal_code="REPLAYED")
    assert states(store, "t1") == {"gd": "done"}


def test_a_report_from_a_node_that_is_not_a_target_is_refused(store):
    add_task(store, "t1", ["gd"])
    with pytest.raises(StoreError, match="node gx has no delivery of task t1"):
        report_done(store, "t1", "gx")
    with pytest.raises(StoreError, match="no delivery"):
        report_done(store, "t2", "gd")
    assert states(store, "t1") == {"gd": "pending"}


def test_reports_missing_what_their_state_needs_are_refused(store):
    add_task(store, "t1", ["gd"])
    with pytest.raises(StoreError, match="needs its refusal code"):
        store.record_report("t1", "gd", "refused")
    with pytest.raises(StoreError, match="row count and partial file"):
        store.record_report("t1", "gd", "done", rows=3)
    with pytest.raises(ValueError, match="not 'missing'"):
        store.record_report("t1", "gd", "missing")
    assert states(store, "t1") == {"gd": "pending"}


def test_the_deadline_turns_silent_nodes_missing_and_the_task_partial(store):
    add_task(store, "t1", ["deaths", "gd", "gx"])
    store.mark_delivered("t1", "gx")
    report_done(store, "t1", "gd")
    assert store.ready_to_combine(DEADLINE - 1) == []
    assert store.ready_to_combine(DEADLINE) == ["t1"]

    assert store.mark_missing("t1", now=DEADLINE) == ["deaths", "gx"]
    task = store.task("t1")
    assert states(store, "t1") == {"deaths": "missing", "gd": "done", "gx": "missing"}
    assert task.delivery("gx").updated_at == DEADLINE
    assert task.settled and task.outcome == "partial"
    assert store.pending_for("gx") == []
    # A report after the deadline is refused: the result names the node as missing.
    with pytest.raises(StoreError, match="deadline passed first"):
        report_done(store, "t1", "gx")
    store.finish_task("t1", "partial", "/r.parquet", {"missing": ["deaths", "gx"]})
    assert store.task("t1").state == "partial"
    assert store.mark_missing("t1") == []


def test_every_node_silent_past_the_deadline_fails_the_task(store):
    add_task(store, "t1", ["gd", "gx"])
    assert store.ready_to_combine(DEADLINE + 10) == ["t1"]
    store.mark_missing("t1")
    assert store.task("t1").outcome == "failed"


def test_versions_grow_with_every_change_of_a_task(store):
    add_task(store, "t1", ["gd"])
    add_task(store, "t2", ["gd"])
    first = store.task("t1").version
    since = store.version
    store.mark_delivered("t1", "gd")
    second = store.task("t1").version
    store.mark_delivered("t1", "gd")  # no change, no new version
    assert store.task("t1").version == second > first
    report_done(store, "t1", "gd")
    third = store.task("t1").version
    assert third > second
    assert store.updated_since(since) == [("t1", third)]
    assert store.version == third
