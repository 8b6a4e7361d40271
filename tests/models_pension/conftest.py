"""Shared helpers for the tests of the local pension models PEN-04, PEN-05 and PEN-06."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analyses.library import DEFAULT_ROOT

#: The models of this folder, by id, with the code of their ground-truth file.
PENSION_MODELS = {"pension.dual_scheme": "PEN-04",
                  "pension.payroll_staff_resident_pension": "PEN-05",
                  "pension.early_retirement": "PEN-06"}


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
