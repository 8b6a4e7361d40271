"""A small synthetic federation, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyses.synth import generate_federation

#: Three provinces at the floor of 1,000 persons each: people move between them, and
#: generation takes a few seconds.
SMALL = {"provinces": 3, "scale": 1e-6, "seed": 11}


@pytest.fixture(scope="session")
def small_federation(tmp_path_factory) -> Path:
    """The folder of a generated three-province federation (read-only for tests)."""
    out = tmp_path_factory.mktemp("synth") / "fed"
    generate_federation(out, **SMALL)
    return out
