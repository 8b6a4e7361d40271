"""Shared helpers for the linkage-model tests: the three models and tmp copies to break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analyses.library import DEFAULT_ROOT

#: The linkage models of issue #6, by id.
LINKAGE_MODELS = ("pension.paid_after_death", "pension.cross_province_duplicate",
                  "medical.settlement_after_death")


def model_folder(model_id: str) -> Path:
    area, name = model_id.split(".")
    return DEFAULT_ROOT / area / name


def edit(path: Path, old: str, new: str) -> None:
    """Replaces `old` (which must occur) by `new` in a text file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def copy_model(tmp_path: Path):
    """Copies a library model into a tmp library root; returns the copy's folder."""
    def copy(model_id: str) -> Path:
        area, name = model_id.split(".")
        target = tmp_path / "models" / area / name
        shutil.copytree(model_folder(model_id), target)
        return target
    return copy
