"""The exact determination check against scipy's LP on random small systems, and its pieces."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from node.disclosure._linear import determined_cells, rref, simplex_max, unit_columns


def test_rref_finds_unit_vectors_in_the_row_space():
    # a + b = ., b + c = ., a - c = . : rank 2, so no single cell is fixed ...
    rows = [{0: 1, 1: 1}, {1: 1, 2: 1}, {0: 1, 2: -1}]
    assert unit_columns(rref(rows)) == set()
    # ... until b is known on its own from a fourth equation, which fixes all three.
    assert unit_columns(rref([*rows, {1: 2}])) == {0, 1, 2}
    # x3/2 - x1/3 = . is scaled to integers, pivot (the smallest column) positive.
    assert rref([{3: Fraction(1, 2), 1: Fraction(-1, 3)}]) == [{1: 2, 3: -3}]


def test_zero_cells_pinned_by_signs_are_determined():
    # a + b = 0 with a, b >= 0: both are 0, though the row space holds neither unit vector.
    assert determined_cells([{0: 1, 1: 1}], zero_cells=[0, 1]) == {0, 1}
    # a - b = 0 lets both grow together: nothing is fixed.
    assert determined_cells([{0: 1, 1: -1}], zero_cells=[0, 1]) == set()
    # a + b - c = 0 with only a, b at zero: c can grow, so nothing is fixed either.
    assert determined_cells([{0: 1, 1: 1, 2: -1}], zero_cells=[0, 1]) == set()


def test_simplex_solves_a_small_program():
    # max x + y subject to x + 2y + s1 = 4, 3x + y + s2 = 6: optimum x = 8/5, y = 6/5.
    x = simplex_max({0: 1, 1: 1}, [{0: 1, 1: 2, 2: 1}, {0: 3, 1: 1, 3: 1}], [4, 6], [2, 3])
    assert (x.get(0), x.get(1)) == (Fraction(8, 5), Fraction(6, 5))


@st.composite
def systems(draw):
    """Random equations with +-1 coefficients over up to 6 non-negative cells, and a
    true table (some cells zero) that satisfies them."""
    n = draw(st.integers(1, 6))
    values = draw(st.lists(st.sampled_from([0, 0, 1, 2, 5]), min_size=n, max_size=n))
    rows = draw(st.lists(
        st.dictionaries(st.integers(0, n - 1), st.sampled_from([-1, 1]), min_size=1),
        min_size=1, max_size=5))
    return values, rows


@settings(max_examples=300, deadline=None)
@given(systems())
def test_determined_cells_agree_with_linear_programming(system):
    values, rows = system
    n = len(values)
    a_eq = [[float(row.get(j, 0)) for j in range(n)] for row in rows]
    b_eq = [sum(v * values[j] for j, v in row.items()) for row in rows]
    expected = set()
    for cell in {j for row in rows for j in row}:
        objective = [1.0 if j == cell else 0.0 for j in range(n)]
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
        high = linprog([-c for c in objective], A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
        assert low.status == 0
        if high.status == 0 and -high.fun - low.fun < 1e-9:
            expected.add(cell)
    zeros = [j for j in range(n) if values[j] == 0]
    assert determined_cells(rows, zeros) == expected
