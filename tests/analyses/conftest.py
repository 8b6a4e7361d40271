"""Shared helpers for the analysis-library tests: tmp copies of real models to break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analyses.library import DEFAULT_ROOT

#: The model every loader test breaks one thing in.
MODEL_ID = "fund.benefit_summary"


def model_source(model_id: str = MODEL_ID) -> Path:
    area, name = model_id.split(".")
    return DEFAULT_ROOT / area / name


def edit(path: Path, old: str, new: str) -> None:
    """Replaces `old` (which must occur) by `new` in a text file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    """A tmp library root holding a copy of fund.benefit_summary."""
    root = tmp_path / "models"
    shutil.copytree(model_source(), root / "fund" / "benefit_summary")
    return root


@pytest.fixture
def model_dir(library_copy: Path) -> Path:
    """The folder of the tmp copy of fund.benefit_summary."""
    return library_copy / "fund" / "benefit_summary"
