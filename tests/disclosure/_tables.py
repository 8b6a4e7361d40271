"""Test helpers: hand-made aggregate tables with their equations, and the LP feasibility check.

The equations here are written from each table's known layout, independently of the
engine's own structure detection, so the LP check judges the engine from outside.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
from scipy.optimize import linprog

#: (total row, part rows): the value of the total row is the sum of the part rows.
Equations = list[tuple[int, list[int]]]
#: Value columns of the library's benefit summary, checked one by one.
SUMMARY_VALUES = ("persons", "payments", "amount")


def month(i: int) -> dt.date:
    """The i-th month from January 2024, as the 1st of the month."""
    return dt.date(2024 + i // 12, 1 + i % 12, 1)


def two_way(inner: list[list[tuple[int, int, int]]]) -> tuple[pa.Table, Equations]:
    """A scheme x month table with row and column margins and a grand total.

    `inner[i][j]` is (persons, payments, amount in yuan) of scheme i in month j; the
    margins are their sums, with NULL as the dimension value of a total.
    """
    rows, cols = len(inner), len(inner[0])
    cells: list[tuple] = []
    index: dict[tuple, int] = {}

    def add(i, j, values):
        index[(i, j)] = len(cells)
        cells.append((None if i is None else f"S{i}", None if j is None else month(j), *values))

    def total(parts):
        return tuple(sum(p[k] for p in parts) for k in range(3))

    for i in range(rows):
        for j in range(cols):
            add(i, j, inner[i][j])
    for i in range(rows):
        add(i, None, total(inner[i]))
    for j in range(cols):
        add(None, j, total([inner[i][j] for i in range(rows)]))
    add(None, None, total([v for row in inner for v in row]))
    equations: Equations = []
    for i in range(rows):
        equations.append((index[(i, None)], [index[(i, j)] for j in range(cols)]))
    for j in range(cols):
        equations.append((index[(None, j)], [index[(i, j)] for i in range(rows)]))
    equations.append((index[(None, None)], [index[(i, None)] for i in range(rows)]))
    equations.append((index[(None, None)], [index[(None, j)] for j in range(cols)]))
    return summary_table(cells), equations


def summary_table(cells: list[tuple]) -> pa.Table:
    """A table shaped like fund.benefit_summary's output from (scheme, period, persons,
    payments, amount) tuples, as one province node (region 440000) returns it; amounts
    become DECIMAL(38,2)."""
    scheme, period, persons, payments, amount = (list(c) for c in zip(*cells, strict=True))
    return pa.table({
        "region": pa.array(["440000"] * len(scheme), pa.string()),
        "scheme_code": pa.array(scheme, pa.string()),
        "period": pa.array(period, pa.date32()),
        "persons": pa.array(persons, pa.int64()),
        "payments": pa.array(payments, pa.int64()),
        "amount": pa.array([None if a is None else Decimal(a) for a in amount],
                           pa.decimal128(38, 2)),
    })


def suppressed_rows(table: pa.Table) -> set[int]:
    return {i for i, m in enumerate(table.column("disclosure").to_pylist()) if m is not None}


def feasible_intervals(released: list, suppressed: set[int],
                       equations: Equations) -> dict[int, tuple[float, float]]:
    """(min, max) of every suppressed cell subject to the equations, the released values
    and non-negativity, by `scipy.optimize.linprog`. A max of inf means unbounded."""
    cells = sorted(suppressed)
    position = {c: k for k, c in enumerate(cells)}
    a_eq, b_eq = [], []
    for total, parts in equations:
        row, rhs = [0.0] * len(cells), 0.0
        for cell, sign in [(total, 1.0), *((p, -1.0) for p in parts)]:
            if cell in position:
                row[position[cell]] += sign
            else:
                rhs -= sign * float(released[cell])
        if any(row):
            a_eq.append(row)
            b_eq.append(rhs)
        else:
            assert abs(rhs) < 1e-6, "released values contradict an equation"
    intervals = {}
    for cell in cells:
        objective = [0.0] * len(cells)
        objective[position[cell]] = 1.0
        constraints = {"A_eq": a_eq, "b_eq": b_eq} if a_eq else {}
        low = linprog(objective, bounds=(0, None), **constraints)
        assert low.status == 0, f"no feasible table for cell {cell}: {low.message}"
        high = linprog([-c for c in objective], bounds=(0, None), **constraints)
        assert high.status in (0, 3), high.message
        intervals[cell] = (low.fun, float("inf") if high.status == 3 else -high.fun)
    return intervals


def assert_protected(table: pa.Table, equations: Equations,
                     columns: tuple[str, ...] = SUMMARY_VALUES) -> None:
    """Every suppressed cell of every value column has a feasible interval wider than 0."""
    suppressed = suppressed_rows(table)
    for column in columns:
        released = table.column(column).to_pylist()
        for cell, (low, high) in feasible_intervals(released, suppressed, equations).items():
            assert high - low > 1e-6, (
                f"{column} of row {cell} is determined by the released values: [{low}, {high}]")


def assert_released_unchanged(original: pa.Table, released: pa.Table,
                              columns: tuple[str, ...] = SUMMARY_VALUES) -> None:
    """Released rows keep their values; suppressed rows have NULL in every value column."""
    hidden = suppressed_rows(released)
    for column in columns:
        before, after = original.column(column).to_pylist(), released.column(column).to_pylist()
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            assert a == (None if i in hidden else b), f"{column} of row {i}"
