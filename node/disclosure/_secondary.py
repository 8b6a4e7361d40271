"""Secondary suppression: hide extra cells until no suppressed value follows from released ones.

For each value column (the count and every measure) the candidate equations of the table
(`_structure`) that hold exactly on that column's values are its equations. Released
cells are known, so an equation restricted to the suppressed cells reads "a known
constant = a combination of unknowns". A suppressed cell is *determined* if those
equations fix it: by linear algebra, or at zero by non-negativity (see `_linear`).

While some cell is determined, a released cell from an equation holding a determined
cell is suppressed as well and everything is checked again. The candidates are ordered
by count, smallest first, a cell that is no total before a total (a total sits in more
equations and drags more cells along); of the first LOOKAHEAD the one that leaves the
fewest cells determined wins. Each round hides one more cell, so the loop ends; if a
cell stays determined with nothing left to hide, the output is refused (UNPROTECTABLE).
A last pass releases again every added cell, largest count first, whose release leaves
nothing determined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from node.disclosure._errors import DisclosureError
from node.disclosure._linear import determined_cells
from node.disclosure._structure import Equation

#: How many of the cheapest candidate cells each round tries before choosing one.
LOOKAHEAD = 6
#: Relative tolerance for equations over DOUBLE columns, whose sums differ in the last bits.
FLOAT_TOLERANCE = Fraction(1, 10**9)


def holding_equations(equations: Sequence[Equation], values: Sequence[Fraction | None],
                      inexact: bool = False) -> list[Equation]:
    """The equations that hold on `values` (NULL cells take part in none).

    With `inexact` (floating-point columns) an equation holds when its residual is within
    FLOAT_TOLERANCE of the magnitude of its terms: an attacker can use it just as well.
    """
    kept = []
    for eq in equations:
        terms = [values[i] for i in eq.cells]
        if any(t is None for t in terms):
            continue
        residual = terms[0] - sum(terms[1:], Fraction(0))
        if residual == 0 or (
            inexact and abs(residual) <= FLOAT_TOLERANCE * max(1, sum(abs(t) for t in terms))
        ):
            kept.append(eq)
    return kept


def determined(equations: Sequence[Equation], values: Sequence[Fraction | None],
               suppressed: set[int]) -> set[int]:
    """The suppressed cells that `equations` and the released values pin down exactly."""
    rows = []
    for eq in equations:
        row: dict[int, int] = {}
        for cell, sign in ((eq.total, 1), *((p, -1) for p in eq.parts)):
            if cell in suppressed:
                row[cell] = row.get(cell, 0) + sign
        row = {c: v for c, v in row.items() if v}
        if row:
            rows.append(row)
    found: set[int] = set()
    for component in _components(rows):
        cells = {c for row in component for c in row}
        zeros = {c for c in cells if values[c] == 0}
        found |= determined_cells(component, zeros)
    return found


def secondary_suppression(
    equations: Sequence[Equation],
    columns: Mapping[str, tuple[Sequence[Fraction | None], bool]],
    counts: Sequence[int],
    primary: set[int],
) -> set[int]:
    """The cells to suppress besides `primary` so that no suppressed value is determined.

    `columns` maps each value column to (values as Fractions or None, inexact?), `counts`
    are the contributor counts used to choose cheap cells. Raises DisclosureError
    UNPROTECTABLE when a determined cell has no released cell left to hide.
    """
    per_column = {name: holding_equations(equations, values, inexact)
                  for name, (values, inexact) in columns.items()}
    totals = {eq.total for eq in equations}
    suppressed = set(primary)
    added: list[int] = []
    while found := _determined_by_column(per_column, columns, suppressed):
        options = _candidates(found, suppressed, counts, totals)
        if not options:
            raise DisclosureError(
                "UNPROTECTABLE", "a suppressed cell follows from the table's totals even "
                "with every related cell suppressed; remove the totals from the model's output",
                detail=f"rows {sorted(found)}")
        # Look one step ahead among the cheapest few: hide the one that leaves fewest
        # cells determined (ties keep the cheaper one).
        choice = min(options[:LOOKAHEAD], key=lambda c: (
            len(_determined_by_column(per_column, columns, suppressed | {c})),
            options.index(c)))
        suppressed.add(choice)
        added.append(choice)
    # The greedy rounds may have hidden more than needed: release again every added cell
    # (largest count first) whose release leaves no suppressed value determined.
    for cell in sorted(added, key=lambda c: (-counts[c], -c)):
        suppressed.discard(cell)
        if _determined_by_column(per_column, columns, suppressed):
            suppressed.add(cell)
    return suppressed - set(primary)


def _determined_by_column(
    per_column: Mapping[str, Sequence[Equation]],
    columns: Mapping[str, tuple[Sequence[Fraction | None], bool]],
    suppressed: set[int],
) -> dict[int, list[Equation]]:
    """Determined cell -> the equations of the columns in which it is determined."""
    found: dict[int, list[Equation]] = {}
    cache: dict[tuple, set[int]] = {}
    for name, (values, _) in columns.items():
        eqs = per_column[name]
        if not eqs:
            continue
        key = (tuple(id(e) for e in eqs), frozenset(c for c in suppressed if values[c] == 0))
        if key not in cache:
            cache[key] = determined(eqs, values, suppressed)
        for cell in cache[key]:
            found.setdefault(cell, []).extend(eqs)
    return found


def _candidates(found: Mapping[int, Sequence[Equation]], suppressed: set[int],
                counts: Sequence[int], totals: set[int]) -> list[int]:
    """Released cells worth hiding, cheapest first: those in an equation with a determined
    cell, or failing that in equations linked to one through suppressed cells."""
    equations = {id(eq): eq for eqs in found.values() for eq in eqs}
    reached = set(found)
    frontier = set(found)
    while frontier:
        candidates = set()
        next_frontier: set[int] = set()
        for key, eq in list(equations.items()):
            if not frontier.intersection(eq.cells):
                continue
            del equations[key]
            for c in eq.cells:
                if c not in suppressed:
                    candidates.add(c)
                elif c not in reached:
                    next_frontier.add(c)
        if candidates:
            return sorted(candidates, key=lambda c: (c in totals, counts[c], c))
        reached |= next_frontier
        frontier = next_frontier
    return []


def _components(rows: list[dict[int, int]]) -> list[list[dict[int, int]]]:
    """Groups equation rows that share a cell, so each group is solved on its own."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in rows:
        first, *rest = row
        for other in rest:
            parent[find(other)] = find(first)
    groups: dict[int, list[dict[int, int]]] = {}
    for row in rows:
        groups.setdefault(find(next(iter(row))), []).append(row)
    return list(groups.values())
