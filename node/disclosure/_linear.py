"""Exact linear algebra for secondary suppression: which suppressed cells the equations pin down.

Everything here works on sparse rows (``dict`` of column -> ``Fraction``) so that no rounding
can hide or invent a disclosure. Two questions are answered:

* `determined_cells`: given the table's equations restricted to the suppressed cells (the
  released cells are known constants, so they drop out), the suppressed cells whose value is
  fixed. A cell is fixed by linear algebra iff its unit vector lies in the row space of the
  equations; with non-negative cells it can also be fixed at zero by the signs (for example
  ``a + b = 0`` with ``a, b >= 0``). Such implicit zeros are found exactly with a small
  simplex (`_positive_support`), then added to the equations as ``x = 0``.
* `simplex_max`: that simplex, in integers, Bland's rule, from a known feasible basis.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction

Row = dict[int, int]


def rref(rows: Iterable[Mapping[int, Fraction | int]]) -> list[Row]:
    """The fully reduced row echelon form of `rows` (zero rows dropped), in integers.

    Each returned row's pivot is its smallest column, with a positive coefficient; the
    row is divided by the gcd of its entries, and no other returned row has a non-zero
    coefficient at that pivot. Rows with rational coefficients are scaled to integers
    first; scaling a row by a non-zero factor leaves its equation unchanged.
    """
    pivots: dict[int, Row] = {}
    for source in rows:
        values = {col: Fraction(v) for col, v in source.items() if v}
        scale = math.lcm(*(v.denominator for v in values.values())) if values else 1
        row = {col: int(v * scale) for col, v in values.items()}
        for col in [c for c in row if c in pivots]:
            factor = row.get(col)
            if factor:
                pivot_row = pivots[col]
                row = _eliminate(row, pivot_row[col], pivot_row, factor)
        if not row:
            continue
        pivot = min(row)
        row = _normalise(row, pivot)
        for other_pivot, other in pivots.items():
            factor = other.get(pivot)
            if factor:
                pivots[other_pivot] = _normalise(
                    _eliminate(other, row[pivot], row, factor), other_pivot)
        pivots[pivot] = row
    return [pivots[p] for p in sorted(pivots)]


def _normalise(row: Row, pivot: int) -> Row:
    """`row` divided by the gcd of its entries, signed so the pivot is positive."""
    divisor = math.gcd(*row.values())
    if row[pivot] < 0:
        divisor = -divisor
    return {col: v // divisor for col, v in row.items()}


def unit_columns(reduced: Sequence[Mapping[int, int]]) -> set[int]:
    """Columns j whose unit vector e_j lies in the row space of a fully reduced matrix.

    In reduced form any combination's coefficient at a pivot is the weight of that pivot's
    row, so e_j is in the row space exactly when some row is e_j itself.
    """
    return {next(iter(row)) for row in reduced if len(row) == 1}


def determined_cells(
    equations: Sequence[Mapping[int, Fraction | int]], zero_cells: Iterable[int]
) -> set[int]:
    """The cells fixed by `equations` (over suppressed cells only) and non-negativity.

    `zero_cells` are the suppressed cells whose true value is 0: only those sit on the
    boundary x >= 0, so only they can be pinned by the signs. Cells that appear in no
    equation are never determined.
    """
    reduced = rref(equations)
    fixed = unit_columns(reduced)
    in_rows = {col for row in reduced for col in row}
    zeros = (set(zero_cells) & in_rows) - fixed
    if not zeros:
        return fixed
    # Every solution of the equations is x* + N f for free coordinates f (the non-pivot
    # columns); a zero cell's row of N says how it moves with f.
    pivot_of = {min(row): row for row in reduced}
    moves: dict[int, dict[int, Fraction]] = {}
    for cell in zeros:
        row = pivot_of.get(cell)
        moves[cell] = {cell: Fraction(1)} if row is None else {
            col: Fraction(-v, row[cell]) for col, v in row.items() if col != cell}
    pinned = zeros - _positive_support(moves)
    if not pinned:
        return fixed
    reduced = rref([*reduced, *({z: 1} for z in sorted(pinned))])
    return unit_columns(reduced) | pinned


def _positive_support(moves: Mapping[int, Mapping[int, Fraction]]) -> set[int]:
    """The zero cells that some feasible change of the table can make positive.

    `moves[k]` is zero cell k's change as a linear form in the free coordinates f. A
    feasible change keeps every zero cell >= 0. Maximising the sum of t_k with
    t_k <= moves[k](f) and t_k <= 1 gives t_k = 1 exactly on the largest support such a
    change can have (the feasible changes form a cone, closed under sums and scaling),
    so one LP answers for every zero cell. Most cases are settled before the LP: a
    single free coordinate moved up or down that keeps every zero cell >= 0 already
    shows which cells it makes positive.
    """
    by_free: dict[int, list[tuple[int, Fraction]]] = {}
    for cell, form in moves.items():
        for f, a in form.items():
            by_free.setdefault(f, []).append((cell, a))
    free = sorted(by_free)
    positive: set[int] = set()
    for entries in by_free.values():
        if all(a > 0 for _, a in entries) or all(a < 0 for _, a in entries):
            positive |= {cell for cell, _ in entries}
    if positive == set(moves):
        return positive
    # Columns: f = plus - minus for each free coordinate, then t, s, u per zero cell.
    # Rows: L*t + L*s - L*moves(f) = 0 (slack s basic) and t + u = 1 (slack u basic),
    # scaled by L, the common denominator of the cell's coefficients, to stay in integers.
    var = {f: (2 * i, 2 * i + 1) for i, f in enumerate(free)}
    n = 2 * len(free)
    rows: list[dict[int, int]] = []
    rhs: list[int] = []
    basis: list[int] = []
    objective: dict[int, int] = {}
    t_of: dict[int, int] = {}
    for cell, form in sorted(moves.items()):
        t, slack, u = n, n + 1, n + 2
        n += 3
        scale = math.lcm(*(a.denominator for a in form.values()))
        row = {t: scale, slack: scale}
        for f, a in form.items():
            plus, minus = var[f]
            row[plus] = -int(a * scale)
            row[minus] = int(a * scale)
        rows += [row, {t: 1, u: 1}]
        rhs += [0, 1]
        basis += [slack, u]
        if cell not in positive:
            objective[t] = 1
            t_of[cell] = t
    x = simplex_max(objective, rows, rhs, basis)
    return positive | {cell for cell, t in t_of.items() if x.get(t, 0) > 0}


def simplex_max(objective: Mapping[int, int], rows: Sequence[Mapping[int, int]],
                rhs: Sequence[int], basis: Sequence[int]) -> dict[int, Fraction]:
    """An optimal x of: maximise objective . x subject to rows . x = rhs, x >= 0.

    Integer data, started from a feasible basis: `basis[i]` has a positive coefficient in
    row i and none in any other row, and every rhs is >= 0. The tableau stays in integers
    (each row scaled by a positive factor, divided by its gcd), so it is exact; Bland's
    rule keeps it from cycling. Returns the non-zero coordinates of x. Raises ValueError
    if the objective is unbounded; the callers' problems never are.
    """
    table = [dict(row) for row in rows]
    values = list(rhs)
    basis = list(basis)
    cost = {col: v for col, v in objective.items() if v}
    for i, col in enumerate(basis):
        weight = cost.get(col)
        if weight:
            cost = _eliminate(cost, table[i][col], table[i], weight)
    while True:
        entering = min((c for c, v in cost.items() if v > 0), default=None)
        if entering is None:
            break
        best = None
        for i, row in enumerate(table):
            a = row.get(entering, 0)
            if a > 0:
                key = (Fraction(values[i], a), basis[i])
                if best is None or key < best[0]:
                    best = (key, i)
        if best is None:
            raise ValueError("the linear program is unbounded")
        p = best[1]
        pivot_row, a_p = table[p], table[p][entering]
        for i, row in enumerate(table):
            a = row.get(entering)
            if i != p and a:
                table[i] = _eliminate(row, a_p, pivot_row, a)
                values[i] = a_p * values[i] - a * values[p]
                _reduce(table[i], values, i)
        weight = cost.get(entering)
        if weight:
            cost = _eliminate(cost, a_p, pivot_row, weight)
            divisor = math.gcd(*cost.values()) if cost else 1
            cost = {c: v // divisor for c, v in cost.items()}
        basis[p] = entering
    return {col: Fraction(values[i], table[i][col]) for i, col in enumerate(basis) if values[i]}


def _eliminate(row: Mapping[int, int], scale: int, other: Mapping[int, int],
               factor: int) -> dict[int, int]:
    """scale * row - factor * other, without zero entries (scale > 0 keeps signs)."""
    result = {c: scale * v for c, v in row.items()}
    for c, v in other.items():
        new = result.get(c, 0) - factor * v
        if new:
            result[c] = new
        else:
            result.pop(c, None)
    return result


def _reduce(row: dict[int, int], values: list[int], i: int) -> None:
    """Divides row i and its right-hand side by their positive gcd."""
    divisor = math.gcd(values[i], *row.values())
    if divisor > 1:
        for c in row:
            row[c] //= divisor
        values[i] //= divisor
