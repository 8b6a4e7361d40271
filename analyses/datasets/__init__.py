"""The standard datasets: one TOML declaration per dataset, loaded as frozen dataclasses."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from analyses.datasets._standard import (
    LEVELS,
    LINEAGE_COLUMNS,
    TYPES,
    Column,
    DatasetStandard,
    DatasetStandardError,
    UnknownDataset,
    parse_standard,
)

__all__ = [
    "LEVELS",
    "LINEAGE_COLUMNS",
    "TYPES",
    "Column",
    "DatasetStandard",
    "DatasetStandardError",
    "UnknownDataset",
    "load_all",
    "load_standard",
    "standard_names",
]

_HERE = Path(__file__).parent


@cache
def standard_names() -> frozenset[str]:
    """The names of all standard datasets shipped in this folder."""
    return frozenset(p.stem for p in _HERE.glob("*.toml"))


@cache
def load_standard(name: str) -> DatasetStandard:
    """Loads the standard called name.

    Raises UnknownDataset (a KeyError) if there is no such standard, and
    DatasetStandardError if its file is invalid.
    """
    if name not in standard_names():
        raise UnknownDataset(
            f"unknown dataset {name!r}; the standard datasets are "
            f"{', '.join(sorted(standard_names()))}"
        )
    return parse_standard(_HERE / f"{name}.toml")


def load_all() -> dict[str, DatasetStandard]:
    """Loads every standard, by name; raises DatasetStandardError on an invalid file."""
    return {name: load_standard(name) for name in sorted(standard_names())}
