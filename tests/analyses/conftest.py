"""Shared fixtures of the analysis-library tests: a tmp copy of a real model to break."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.model_support import copy_into

#: The model every loader test breaks one thing in.
MODEL_ID = "fund.benefit_summary"


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    """A tmp library root holding a copy of fund.benefit_summary."""
    root = tmp_path / "models"
    copy_into(root, MODEL_ID)
    return root


@pytest.fixture
def model_dir(library_copy: Path) -> Path:
    """The folder of the tmp copy of fund.benefit_summary."""
    return library_copy / "fund" / "benefit_summary"
