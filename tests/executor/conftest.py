"""Fixtures for the executor tests: real snapshot files and throw-away models in tmp dirs."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import duckdb
import pytest

from analyses import Model, load_library, load_model
from analyses.datasets import load_standard
from node.policy import Policy

LIBRARY = load_library()
SUMMARY = LIBRARY.get("fund.benefit_summary")
FIXTURES = SUMMARY.path / "fixtures"

#: The output of every throw-away model: one aggregate cell per scheme.
_OUTPUT = """
[output]
kind = "aggregate"

[[output.column]]
name = "scheme_code"
type = "VARCHAR"
role = "dimension"
description = "Scheme."

[[output.column]]
name = "persons"
type = "BIGINT"
role = "count"
description = "Persons."

[[output.column]]
name = "amount"
type = "{amount_type}"
role = "measure"
description = "Amount."
{dominance}"""

_MANIFEST = """
id = "sandbox.{name}"
version = "1.0.0"
method_code = "TEST-01"
title_zh = "沙箱测试"
title_en = "Sandbox test"
objective = "A throw-away model for the executor tests."
category = ["测试", "沙箱"]
problem_types = []
legal_basis = ["none: a test"]
steps = ["Run the SQL."]
audit_suggestion = "None."
author_unit = "tests"

[datasets]
province = ["benefit_payment"]
{parameters}
{output}
[sql]
province = "province.sql"
combine = "combine.sql"
"""

_COMBINE = """
SELECT scheme_code, CAST(sum(persons) AS BIGINT) AS persons,
       CAST(sum(amount) AS DECIMAL(38, 2)) AS amount
FROM partials GROUP BY scheme_code
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_snapshot(path: Path, dataset: str = "benefit_payment", csv: Path | None = None) -> Path:
    """A DuckDB file holding one table named after `dataset`, typed by its standard."""
    csv = csv or FIXTURES / "province" / f"{dataset}.csv"
    columns = ", ".join(f'"{c.name}" {c.type}' for c in load_standard(dataset).columns)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"CREATE TABLE {dataset} ({columns})")
        con.execute(f"INSERT INTO {dataset} BY NAME "
                    "SELECT * FROM read_csv($csv, all_varchar = true)", {"csv": str(csv)})
    finally:
        con.close()
    return path


def write_model(root: Path, name: str, sql: str, parameters: str = "", *,
                dominance: bool = False, amount_type: str = "DECIMAL(38,2)") -> Model:
    """Writes and loads the model `sandbox.<name>` whose province SQL is `sql`.

    With `dominance`, the measure `amount` (of `amount_type`) is declared with
    ``dominance = true``, so `sql` must return amount__top1 and amount__top2 last.
    """
    folder = root / "sandbox" / name
    folder.mkdir(parents=True)
    output = _OUTPUT.format(amount_type=amount_type,
                            dominance="dominance = true\n" if dominance else "")
    manifest = _MANIFEST.format(name=name, parameters=textwrap.dedent(parameters), output=output)
    (folder / "manifest.toml").write_text(manifest, encoding="utf-8")
    (folder / "province.sql").write_text(sql, encoding="utf-8")
    (folder / "combine.sql").write_text(_COMBINE, encoding="utf-8")
    return load_model(folder)


@pytest.fixture
def snapshot(tmp_path) -> Path:
    """A benefit_payment snapshot holding the fund.benefit_summary fixture rows."""
    return make_snapshot(tmp_path / "benefit_payment.duckdb")


@pytest.fixture
def snapshots(snapshot) -> dict[str, Path]:
    return {"benefit_payment": snapshot}


@pytest.fixture
def policy() -> Policy:
    return Policy(memory_limit="512MB", threads=2, timeout_seconds=30)


@pytest.fixture
def models(tmp_path):
    """`models(name, sql, parameters="", **options)` writes and loads a throw-away model.

    The options are those of `write_model` (`dominance`, `amount_type`).
    """
    root = tmp_path / "models"
    return lambda name, sql, parameters="", **options: write_model(root, name, sql, parameters,
                                                                   **options)
