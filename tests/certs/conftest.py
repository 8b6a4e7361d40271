"""Shared fixtures: the example spec of the brief, and federations provisioned from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from certs import provision

SPEC_TEXT = """\
name = "demo"
coordinator = "127.0.0.1:7443"

[[node]]
id = "gd"
level = "province"        # ministry | province | registry
region = "440000"
datasets = ["benefit_payment"]

[[node]]
id = "deaths"
level = "registry"
region = "100000"
datasets = ["death_record"]

[[issuer]]
id = "hq-lead"
roles = ["lead"]

[[issuer]]
id = "hq-approver"
roles = ["approver"]

[[office]]
id = "office-south"
"""


def write_spec(folder: Path, text: str = SPEC_TEXT) -> Path:
    """Writes a spec.toml into folder and returns its path."""
    path = folder / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def spec_path(tmp_path: Path) -> Path:
    """The example spec, in a fresh folder."""
    return write_spec(tmp_path)


@pytest.fixture
def fresh_federation(tmp_path: Path) -> Path:
    """A federation of its own for tests that change it; returns OUT."""
    out = tmp_path / "fed"
    provision(write_spec(tmp_path), out)
    return out


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One federation shared by the tests that only read it; returns OUT."""
    folder = tmp_path_factory.mktemp("shared-federation")
    out = folder / "fed"
    provision(write_spec(folder), out)
    return out


@pytest.fixture(scope="session")
def other_federation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, separately provisioned federation with the same party ids."""
    folder = tmp_path_factory.mktemp("other-federation")
    out = folder / "fed"
    provision(write_spec(folder), out)
    return out
