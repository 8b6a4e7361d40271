"""Fixtures of the sharing tests: a federation with four provinces and two offices."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sharing.helpers import SPEC, coordinator_for


@pytest.fixture(scope="session")
def share_fed(tmp_path_factory) -> Path:
    """Kits of the `share` federation (helpers.SPEC) in share_fed/<party id>/."""
    from certs import provision

    root = tmp_path_factory.mktemp("share-fed")
    spec = root / "share.toml"
    spec.write_text(SPEC, encoding="utf-8")
    provision(spec, root / "share")
    return root / "share"


@pytest.fixture
def coordinator(share_fed, tmp_path):
    """A real Coordinator on a fresh home of the `share` federation."""
    opened = coordinator_for(share_fed, tmp_path)
    yield opened
    opened.close()
