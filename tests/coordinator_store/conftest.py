"""Fixtures of the task store tests: a fresh store in a temporary coordinator home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coordinator.store import TaskStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "coordinator.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[TaskStore]:
    with TaskStore(db_path) as opened:
        yield opened
