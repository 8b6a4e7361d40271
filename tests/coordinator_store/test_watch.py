"""Watchers wake when their task changes, and the store serves many threads at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from coordinator.store import StoreError, UnknownTask
from tests.coordinator_store.helpers import add_task, report_done

#: Generous: a watcher that is never woken fails the test instead of hanging it.
WAIT = 30.0


def watch_in_thread(store, task_id: str, version: int,
                    timeout: float = WAIT) -> tuple[threading.Thread, list]:
    seen: list = []

    def run() -> None:
        try:
            seen.append(store.wait_for_change(task_id, version, timeout=timeout))
        except Exception as exc:  # noqa: BLE001 - handed to the test thread
            seen.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, seen


def test_a_watcher_wakes_on_a_report(store):
    add_task(store, "t1", ["gd", "gx"])
    version = store.task("t1").version
    thread, seen = watch_in_thread(store, "t1", version)
    report_done(store, "t1", "gd")
    thread.join(WAIT)

    # Unwoken, the watcher would have returned the old version after WAIT seconds.
    assert not thread.is_alive()
    assert seen == [store.task("t1").version]
    assert seen[0] > version


def test_a_watcher_that_is_behind_returns_at_once(store):
    add_task(store, "t1", ["gd"])
    old = store.task("t1").version
    store.mark_delivered("t1", "gd")
    assert store.wait_for_change("t1", old, timeout=WAIT) == store.task("t1").version != old


def test_a_watcher_times_out_with_the_unchanged_version(store):
    add_task(store, "t1", ["gd"])
    add_task(store, "t2", ["gd"])
    version = store.task("t1").version
    thread, seen = watch_in_thread(store, "t1", version, timeout=0.5)
    store.mark_delivered("t2", "gd")  # another task's change wakes but does not return
    thread.join(WAIT)
    assert seen == [version]
    assert store.wait_for_change("t1", version, timeout=0.01) == version


def test_watching_an_unknown_task_raises(store):
    with pytest.raises(UnknownTask):
        store.wait_for_change("nope", 0, timeout=0.01)


def test_closing_the_store_ends_every_watch(store):
    add_task(store, "t1", ["gd"])
    thread, seen = watch_in_thread(store, "t1", store.task("t1").version)
    store.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(seen) == 1 and isinstance(seen[0], StoreError)


def test_many_threads_report_at_once_and_every_report_is_kept(store):
    nodes = [f"n{i:02d}" for i in range(24)]
    for task in ("t1", "t2"):
        add_task(store, task, nodes)

    def report(node: str) -> None:
        for task in ("t1", "t2"):
            store.mark_delivered(task, node)
            store.pending_for(node)
            report_done(store, task, node)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(report, nodes))

    for task in ("t1", "t2"):
        record = store.task(task)
        assert {d.state for d in record.deliveries} == {"done"}
        assert len(record.deliveries) == len(nodes)
    assert store.ready_to_combine(0) == ["t1", "t2"]
