"""Fixtures for the disclosure tests: throw-away models written to tmp dirs and loaded for real."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from analyses import Model, load_library, load_model

#: The library's aggregate by region x scheme_code x period: persons, payments and amount.
#: A province node's output holds one region, so its tables are scheme x period.
SUMMARY = load_library().get("fund.benefit_summary")

_MANIFEST = """
id = "disclosure.{name}"
version = "1.0.0"
method_code = "TEST-01"
title_zh = "披露测试"
title_en = "Disclosure test"
objective = "A throw-away model for the disclosure tests."
category = ["测试", "披露"]
problem_types = []
legal_basis = ["none: a test"]
steps = ["Run the SQL."]
audit_suggestion = "None."
author_unit = "tests"

[datasets]
{level} = [{datasets}]

[output]
kind = "{kind}"
{columns}
[sql]
{level} = "node.sql"
combine = "combine.sql"
"""

#: Output declarations used by the tests, as (kind, level, datasets, columns).
OUTPUTS = {
    # One dimension: benefits per scheme.
    "by_scheme": ("aggregate", "province", ["benefit_payment"], [
        ("scheme_code", "VARCHAR", "dimension"),
        ("persons", "BIGINT", "count"),
        ("amount", "DECIMAL(38,2)", "measure"),
    ]),
    # A region hierarchy: benefits per pooling region (province, city, county codes).
    "by_region": ("aggregate", "province", ["benefit_payment"], [
        ("pool_admdvs", "VARCHAR", "dimension"),
        ("persons", "BIGINT", "count"),
        ("amount", "DECIMAL(38,2)", "measure"),
    ]),
    # Death-registry tokens with the date of death.
    "deaths": ("tokens", "registry", ["death_record"], [
        ("token", "VARCHAR", "token"),
        ("death_date", "DATE", "attribute"),
    ]),
    # Flags raised at a province, with the amount paid.
    "flags": ("flags", "province", ["benefit_payment"], [
        ("token", "VARCHAR", "token"),
        ("amount", "DECIMAL(38,2)", "attribute"),
    ]),
}


def write_model(root: Path, name: str) -> Model:
    """Writes the model `disclosure.<name>` declared in OUTPUTS and loads it."""
    kind, level, datasets, columns = OUTPUTS[name]
    folder = root / "disclosure" / name
    folder.mkdir(parents=True)
    declared = "".join(textwrap.dedent(f"""
        [[output.column]]
        name = "{col}"
        type = "{ctype}"
        role = "{role}"
        description = "{col}."
        """) for col, ctype, role in columns)
    manifest = _MANIFEST.format(name=name, level=level, kind=kind, columns=declared,
                                datasets=", ".join(f'"{d}"' for d in datasets))
    (folder / "manifest.toml").write_text(manifest, encoding="utf-8")
    names = ", ".join(col for col, _, _ in columns)
    (folder / "node.sql").write_text(f"SELECT {names} FROM {datasets[0]}\n", encoding="utf-8")
    (folder / "combine.sql").write_text(f"SELECT {names} FROM partials\n", encoding="utf-8")
    return load_model(folder)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Model]:
    """Every model of OUTPUTS, loaded from real files, plus the library's benefit summary."""
    root = tmp_path_factory.mktemp("models")
    loaded = {name: write_model(root, name) for name in OUTPUTS}
    loaded["summary"] = SUMMARY
    return loaded
