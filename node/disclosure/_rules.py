"""Primary disclosure rules for one cell: contributor threshold, zeros, (n, k) dominance, p%.

The rules follow sdcTable's `domRule` and the ABS and ACRO practice quoted in the
reference (privacy-and-linkage.md A.2). T is the cell total, x1 >= x2 >= ... the
contributions of the persons in the cell:

* threshold: sensitive if 0 < count < min_contributors (or count == 0 when zeros are
  disclosive);
* (n, k) dominance: sensitive if x1 + ... + xn > k/100 * T;
* p% rule: sensitive if T - x1 - x2 < p/100 * x1 (the second-largest contributor could
  estimate the largest to within p percent).

Negative contributions: like the ABS, a list is judged on absolute values. From helper
columns (`dominance_from_top`, `p_percent_from_top`) the engine only knows the net total
and the two largest absolute contributions; it judges against |T|, which is at most the
sum of absolute contributions, so the check can only err towards suppression.

All comparisons are exact (`fractions.Fraction`): a float or decimal never rounds a
sensitive cell into a safe one.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

Number = int | float | Decimal | Fraction

#: Names of the primary rules, as counted in a disclosure summary.
RULES = ("threshold", "zeros", "dominance", "p_percent")


def threshold_rule(count: int, min_contributors: int, zeros: str = "allowed") -> str | None:
    """The rule that makes a cell of `count` persons sensitive, or None if it may be released.

    Returns "threshold" for 0 < count < min_contributors and "zeros" for count == 0 when
    `zeros` is "disclosive". Raises ValueError for a negative count or an unknown `zeros`.
    """
    if zeros not in ("allowed", "disclosive"):
        raise ValueError(f"zeros must be 'allowed' or 'disclosive', not {zeros!r}")
    if count < 0:
        raise ValueError("a count of persons cannot be negative")
    if count == 0:
        return "zeros" if zeros == "disclosive" else None
    return "threshold" if count < min_contributors else None


def dominance_sensitive(contributions: Iterable[Number], n: int, k: Number) -> bool:
    """(n, k) dominance on a plain list: do the n largest |x| exceed k percent of sum |x|?

    E.g. [60, 20, 10, 5, 5] is sensitive under (1, 50) and (2, 67) but not (2, 85).
    Raises ValueError if n < 1 or k is outside [0, 100].
    """
    if n < 1:
        raise ValueError("dominance n must be at least 1")
    xs = _sorted_abs(contributions)
    return _dominates(sum(xs, Fraction(0)), sum(xs[:n], Fraction(0)), k)


def p_percent_sensitive(contributions: Iterable[Number], p: Number) -> bool:
    """The p% rule on a plain list: is sum |x| - x1 - x2 below p percent of x1?

    p = 0 never flags a cell (the rule is off). E.g. [95, 3, 2] is sensitive at p = 10,
    [60, 20, 10, 5, 5] is not. Raises ValueError if p is outside [0, 100].
    """
    xs = _sorted_abs(contributions)
    top1 = xs[0] if xs else Fraction(0)
    top2 = xs[1] if len(xs) > 1 else Fraction(0)
    return _p_rule(sum(xs, Fraction(0)), top1, top2, p)


def dominance_from_top(total: Number, top1: Number, top2: Number | None, n: int,
                       k: Number) -> bool:
    """(n, k) dominance from a cell's net total and its two largest absolute contributions.

    `top2` may be None (one contributor). Raises ValueError if n is not 1 or 2, k is
    outside [0, 100], or a top contribution is negative or top2 > top1.
    """
    if n not in (1, 2):
        raise ValueError("dominance from the top contributions needs n = 1 or 2")
    x1, x2 = _tops(top1, top2)
    return _dominates(abs(Fraction(total)), x1 if n == 1 else x1 + x2, k)


def p_percent_from_top(total: Number, top1: Number, top2: Number | None, p: Number) -> bool:
    """The p% rule from a cell's net total and its two largest absolute contributions.

    Raises ValueError if p is outside [0, 100], or a top contribution is negative or
    top2 > top1.
    """
    x1, x2 = _tops(top1, top2)
    return _p_rule(abs(Fraction(total)), x1, x2, p)


def _dominates(total: Fraction, top: Fraction, k: Number) -> bool:
    k = Fraction(k)
    if not 0 <= k <= 100:
        raise ValueError("dominance k is a percentage between 0 and 100")
    return 100 * top > k * total


def _p_rule(total: Fraction, top1: Fraction, top2: Fraction, p: Number) -> bool:
    p = Fraction(p)
    if not 0 <= p <= 100:
        raise ValueError("p is a percentage between 0 and 100")
    if p == 0:
        return False
    return 100 * (total - top1 - top2) < p * top1


def _tops(top1: Number, top2: Number | None) -> tuple[Fraction, Fraction]:
    x1 = Fraction(top1)
    x2 = Fraction(0) if top2 is None else Fraction(top2)
    if x1 < 0 or x2 < 0:
        raise ValueError("top contributions are absolute values and cannot be negative")
    if x2 > x1:
        raise ValueError("the second-largest contribution cannot exceed the largest")
    return x1, x2


def _sorted_abs(contributions: Iterable[Number]) -> list[Fraction]:
    return sorted((abs(Fraction(x)) for x in contributions), reverse=True)
