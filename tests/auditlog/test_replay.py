"""Tests for the replay store: a task id is consumed once, durably, and pruned after expiry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.errors import NodeError
from node.replay import ReplayStore, TaskReplayed


@pytest.fixture
def store(tmp_path: Path):
    with ReplayStore(tmp_path / "replay.sqlite") as s:
        yield s


def test_consume_twice_raises(store: ReplayStore) -> None:
    assert not store.seen("t-1")
    store.consume("t-1", 1000)
    assert store.seen("t-1")
    with pytest.raises(TaskReplayed) as caught:
        store.consume("t-1", 1000)
    assert caught.value.code == "REPLAYED"
    assert caught.value.task_id == "t-1"
    assert "already run" in str(caught.value) and "new task" in str(caught.value)
    assert isinstance(caught.value, NodeError)


def test_other_ids_are_independent(store: ReplayStore) -> None:
    store.consume("t-1", 1000)
    store.consume("t-2", 1000)
    assert not store.seen("t-3")
    assert len(store) == 2


def test_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "replay.sqlite"
    with ReplayStore(path) as first:
        first.consume("t-1", 1000)
    with ReplayStore(path) as second:
        assert second.seen("t-1")
        with pytest.raises(TaskReplayed):
            second.consume("t-1", 1000)


def test_uses_wal_mode(store: ReplayStore) -> None:
    db = sqlite3.connect(store.path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_prune_forgets_only_ids_expired_longer_than_keep(store: ReplayStore) -> None:
    store.consume("old", 100)
    store.consume("edge", 150)
    store.consume("new", 500)
    assert store.prune(now=200, keep_seconds=50) == 1  # 100 + 50 < 200; 150 + 50 is not.
    assert not store.seen("old")
    assert store.seen("edge") and store.seen("new")
    store.consume("old", 100)  # Forgotten, so accepted again; EXPIRED refuses it earlier.


@pytest.mark.parametrize(
    ("task_id", "expires_at", "error"),
    [("", 1, ValueError), (None, 1, ValueError), ("t", "1", TypeError), ("t", 1.5, TypeError)],
)
def test_consume_rejects_bad_arguments(
    store: ReplayStore, task_id: object, expires_at: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        store.consume(task_id, expires_at)  # type: ignore[arg-type]
    assert len(store) == 0


def test_prune_rejects_negative_keep(store: ReplayStore) -> None:
    with pytest.raises(ValueError, match="keep_seconds"):
        store.prune(now=0, keep_seconds=-1)
