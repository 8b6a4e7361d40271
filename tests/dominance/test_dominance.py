"""Dominance end to end at one node: the model's SQL, the sandbox, then the disclosure engine.

A hand-made benefit_payment snapshot holds cells where one or two persons own most of the
money. `node.executor.execute` runs fund.benefit_summary over it, returning the declared
columns and the dominance helpers of `amount`; `node.disclosure.apply_disclosure` then
suppresses the dominated cells and drops the helpers, so nothing but the declared columns
and the engine's marker leaves.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from analyses import load_library
from analyses._output import HELPER_SUFFIXES, MARKER_COLUMN, helper_names
from analyses.datasets import load_standard
from node.disclosure import MARKER_COLUMN as ENGINE_MARKER
from node.disclosure import PRIMARY, apply_disclosure, helper_columns
from node.executor import execute
from node.idno import check_char
from node.policy import DisclosurePolicy, Policy

SUMMARY = load_library().get("fund.benefit_summary")
JAN, FEB = dt.date(2024, 1, 1), dt.date(2024, 2, 1)


def person(n: int) -> str:
    """A well-formed 18-character ID (Guangzhou, born 1960) with its check character."""
    first17 = f"44010319600101{n:03d}"
    return first17 + check_char(first17)


class Roll:
    """Payment rows for a snapshot; every person gets a new ID."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self._people = 0

    def person(self, scheme: str, period: dt.date, *amounts: str) -> None:
        """One new person paid `amounts` (one row each) in the cell (scheme, period)."""
        self._people += 1
        for amount in amounts:
            self.rows.append((f"PAY-{len(self.rows):05d}", person(self._people),
                              f"P{self._people:05d}", scheme, "0101", period, period,
                              Decimal(amount), "440100", "1" if Decimal(amount) >= 0 else "5"))

    def people(self, count: int, scheme: str, period: dt.date, amount: str) -> None:
        for _ in range(count):
            self.person(scheme, period, amount)

    def snapshot(self, path: Path) -> Path:
        """A DuckDB file holding the rows in a table typed by the benefit_payment standard."""
        standard = load_standard("benefit_payment")
        columns = ", ".join(f'"{c.name}" {c.type}' for c in standard.columns)
        con = duckdb.connect(str(path))
        try:
            con.execute(f"CREATE TABLE benefit_payment ({columns})")
            con.executemany(
                "INSERT INTO benefit_payment (pay_id, id_no, psn_no, scheme_code, benefit_item, "
                "period, pay_date, amount, pool_admdvs, pay_status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self.rows)
        finally:
            con.close()
        return path


@pytest.fixture
def snapshots(tmp_path) -> dict[str, Path]:
    roll = Roll()
    # 110/2024-01: 12 persons, one of whom holds 95 % of the money (20900 of 22000).
    roll.person("110", JAN, "20900.00")
    roll.people(11, "110", JAN, "100.00")
    # 110/2024-02: 15 persons paid alike: released.
    roll.people(15, "110", FEB, "3000.00")
    # 170/2024-01: 12 persons, two of whom hold 45 % each: dominant only for n = 2.
    roll.people(2, "170", JAN, "4500.00")
    roll.people(10, "170", JAN, "100.00")
    # 170/2024-02: 12 persons; one is paid 10 rows of 2090.00, each row small but 95 % of
    # the cell once summed per person, as the helpers are.
    roll.person("170", FEB, *["2090.00"] * 10)
    roll.people(11, "170", FEB, "100.00")
    # 120/2024-01: 12 persons; one was paid 50000.00 and recovered it all, netting to 0.
    roll.person("120", JAN, "50000.00", "-50000.00")
    roll.people(11, "120", JAN, "300.00")
    return {"benefit_payment": roll.snapshot(tmp_path / "benefit_payment.duckdb")}


@pytest.fixture
def policy() -> Policy:
    return Policy(memory_limit="512MB", threads=2, timeout_seconds=30)


def by_cell(table) -> dict[tuple, dict]:
    return {(r["scheme_code"], r["period"]): r for r in table.to_pylist()}


def test_a_dominated_cell_is_suppressed_and_the_helpers_never_leave(snapshots, policy):
    table = execute(SUMMARY, "province", {}, snapshots, policy)
    assert table.column_names[-2:] == ["amount__top1", "amount__top2"]
    node = by_cell(table)
    assert node[("110", JAN)]["persons"] == 12
    assert (node[("110", JAN)]["amount__top1"], node[("110", JAN)]["amount__top2"]) == (
        Decimal("20900.00"), Decimal("100.00"))
    assert node[("170", FEB)]["amount__top1"] == Decimal("20900.00")  # ten rows, one person
    assert node[("120", JAN)]["amount"] == Decimal("3300.00")

    disclosed = apply_disclosure(SUMMARY, table, DisclosurePolicy())
    released = disclosed.table
    assert released.column_names == [*SUMMARY.output.names, MARKER_COLUMN]
    assert not any(name.endswith(HELPER_SUFFIXES) for name in released.column_names)
    cells = by_cell(released)
    for key in [("110", JAN), ("170", JAN), ("170", FEB)]:
        cell = cells[key]
        assert cell[MARKER_COLUMN] == PRIMARY, key
        assert cell["persons"] is None and cell["payments"] is None and cell["amount"] is None
    for key in [("110", FEB), ("120", JAN)]:
        assert cells[key][MARKER_COLUMN] is None, key
    assert cells[("110", FEB)]["amount"] == Decimal("45000.00")
    assert cells[("120", JAN)]["persons"] == 12
    summary = disclosed.summary
    assert summary["dominance_checked"] == ["amount"]
    assert summary["rule_hits"]["dominance"] == 3
    assert summary["rule_hits"]["threshold"] == 0  # every cell has at least 12 persons
    assert summary["suppressed"] == {"primary": 3, "secondary": 0}


def test_the_node_policy_sets_n_and_k(snapshots, policy):
    table = execute(SUMMARY, "province", {}, snapshots, policy)
    # (1, 85): the two persons holding 45 % each are no longer dominant one by one.
    cells = by_cell(apply_disclosure(SUMMARY, table, DisclosurePolicy(dominance_n=1)).table)
    assert cells[("170", JAN)][MARKER_COLUMN] is None
    assert cells[("110", JAN)][MARKER_COLUMN] == PRIMARY
    # (2, 96): only a cell whose top two persons hold more than 96 % falls.
    loose = apply_disclosure(SUMMARY, table, DisclosurePolicy(dominance_k=96))
    assert loose.summary["rule_hits"]["dominance"] == 0


def test_the_p_percent_rule_reads_the_same_helpers(tmp_path, policy):
    roll = Roll()
    # x1 = 10000, x2 = 100, eleven more of 90 each: the rest (990) is under 10 % of x1,
    # while the top two hold 91.1 % of 11090, under k = 95.
    roll.person("110", JAN, "10000.00")
    roll.people(11, "110", JAN, "90.00")
    roll.person("110", JAN, "100.00")
    snapshots = {"benefit_payment": roll.snapshot(tmp_path / "p.duckdb")}
    table = execute(SUMMARY, "province", {}, snapshots, policy)
    off = apply_disclosure(SUMMARY, table, DisclosurePolicy(dominance_k=95))
    assert off.table.column(MARKER_COLUMN).to_pylist() == [None]
    on = apply_disclosure(SUMMARY, table, DisclosurePolicy(dominance_k=95, p_percent=10))
    assert on.table.column(MARKER_COLUMN).to_pylist() == [PRIMARY]
    assert on.summary["rule_hits"]["p_percent"] == 1 and on.summary["rule_hits"]["dominance"] == 0


def test_the_library_and_the_engine_agree_on_the_reserved_names():
    assert helper_names("amount") == helper_columns("amount")
    assert MARKER_COLUMN == ENGINE_MARKER
    assert [c.name for c in SUMMARY.output.helpers] == list(helper_columns("amount"))
