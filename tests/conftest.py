"""Shared fixtures: real federations provisioned once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# No timing assertions: the machines that run the tests are shared and noisy, so property
# tests have no per-example deadline.
settings.register_profile("fedaudit", deadline=None)
settings.load_profile("fedaudit")

SPEC = """\
name = "{name}"
coordinator = "127.0.0.1:7443"
[[node]]
id = "gd"
level = "province"
region = "440000"
datasets = ["benefit_payment"]
[[node]]
id = "gx"
level = "province"
region = "450000"
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


def provision_federation(root: Path, name: str) -> Path:
    """Provisions the test spec under root/<name>/ and returns the output folder."""
    from certs import provision

    root.mkdir(parents=True, exist_ok=True)
    spec = root / f"{name}.toml"
    spec.write_text(SPEC.format(name=name), encoding="utf-8")
    out = root / name
    provision(spec, out)
    return out


@pytest.fixture(scope="session")
def federation(tmp_path_factory) -> Path:
    """A provisioned federation `demo`: kits in federation/<party id>/."""
    return provision_federation(tmp_path_factory.mktemp("fed"), "demo")


@pytest.fixture(scope="session")
def other_federation(tmp_path_factory) -> Path:
    """A second, unrelated federation with the same party names."""
    return provision_federation(tmp_path_factory.mktemp("fed"), "other")
