"""The same arguments give byte-identical files; another seed gives other data."""

from __future__ import annotations

import hashlib

import pytest

from analyses.synth import generate_federation

ARGS = {"provinces": 2, "scale": 1e-6, "start": "2024-01", "end": "2024-12"}


def _hashes(out) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    out = tmp_path_factory.mktemp("det") / "a"
    generate_federation(out, seed=7, **ARGS)
    return _hashes(out)


def test_same_seed_gives_identical_bytes(first, tmp_path):
    generate_federation(tmp_path / "b", seed=7, **ARGS)
    again = _hashes(tmp_path / "b")
    assert len(again) == 2 * 7 + 5 + 13 + 1  # provinces, registries, truth, the spec
    assert again == first


def test_another_seed_gives_other_data(first, tmp_path):
    generate_federation(tmp_path / "c", seed=8, **ARGS)
    other = _hashes(tmp_path / "c")
    assert other.keys() == first.keys()
    differ = {name for name in first if first[name] != other[name]}
    # Every data file differs; the truth README is fixed text.
    assert differ >= {name for name in first if name.endswith(".csv")
                      and not name.startswith("truth/")}
    assert "truth/README.md" not in differ
