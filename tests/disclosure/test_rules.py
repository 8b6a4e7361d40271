"""The primary rules on plain lists: the reference's worked examples and the threshold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from node.disclosure import (
    dominance_from_top,
    dominance_sensitive,
    p_percent_from_top,
    p_percent_sensitive,
    threshold_rule,
)

#: Worked examples from the shared reference privacy-and-linkage.md, A.2 (ABS DataLab
#: (1,50) and (2,67); sdcTable's default (2,85); ACRO's p-ratio with p = 10 %).
#: Each case: (contributions, n, k, sensitive?).
DOMINANCE_CASES = [
    ([60, 20, 10, 5, 5], 1, 50, True),  # 60 > 50
    ([60, 20, 10, 5, 5], 2, 67, True),  # 80 > 67
    ([60, 20, 10, 5, 5], 2, 85, False),  # 80 <= 85
    ([60, 20, 10, 5, 5], 2, 90, False),  # ACRO NK(2, 0.90): 0.80 < 0.90
    ([95, 3, 2], 1, 50, True),
    ([95, 3, 2], 2, 67, True),
    ([95, 3, 2], 2, 85, True),
    ([95, 3, 2], 2, 90, True),
    ([50, 50], 1, 50, False),  # exactly k percent is not more than k percent
    ([Decimal("0.1"), Decimal("0.2"), Decimal("0.7")], 1, 70, False),  # exact, no rounding
]
#: (contributions, p, sensitive?): (T - x1 - x2) < p/100 * x1.
P_PERCENT_CASES = [
    ([60, 20, 10, 5, 5], 10, False),  # (100 - 60 - 20) / 60 = 0.333 >= 0.10
    ([95, 3, 2], 10, True),  # (100 - 95 - 3) / 95 = 0.021 < 0.10
    ([95, 3, 2], 0, False),  # p = 0 switches the rule off
    ([60, 20, 10, 5, 5], 40, True),  # 20 < 24
    ([7], 10, True),  # a single contributor is fully exposed
]


@pytest.mark.parametrize(("contributions", "n", "k", "sensitive"), DOMINANCE_CASES)
def test_dominance_worked_examples(contributions, n, k, sensitive):
    assert dominance_sensitive(contributions, n, k) is sensitive
    ordered = sorted(contributions, reverse=True) + [None]
    assert dominance_from_top(sum(contributions), ordered[0], ordered[1], n, k) is sensitive


@pytest.mark.parametrize(("contributions", "p", "sensitive"), P_PERCENT_CASES)
def test_p_percent_worked_examples(contributions, p, sensitive):
    assert p_percent_sensitive(contributions, p) is sensitive
    ordered = sorted(contributions, reverse=True) + [None]
    assert p_percent_from_top(sum(contributions), ordered[0], ordered[1], p) is sensitive


def test_negative_contributions_count_by_absolute_value():
    # ABS practice: [-60, 20, 20] is judged as [60, 20, 20], where 60 of 100 dominates.
    assert dominance_sensitive([-60, 20, 20], 1, 50)
    # From helper columns only the net total (-20) is known; |T| = 20 < 60 is stricter.
    assert dominance_from_top(-20, 60, 20, 1, 50)


@pytest.mark.parametrize(
    ("count", "zeros", "expected"),
    [
        (0, "allowed", None),
        (0, "disclosive", "zeros"),
        (1, "allowed", "threshold"),
        (9, "disclosive", "threshold"),
        (10, "allowed", None),
        (11, "disclosive", None),
    ],
)
def test_threshold_with_zeros_allowed_or_disclosive(count, zeros, expected):
    assert threshold_rule(count, 10, zeros) == expected


def test_threshold_follows_min_contributors():
    assert threshold_rule(15, 20) == "threshold"
    assert threshold_rule(20, 20) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda: threshold_rule(-1, 10),
        lambda: threshold_rule(3, 10, "sometimes"),
        lambda: dominance_sensitive([1, 2], 0, 50),
        lambda: dominance_sensitive([1, 2], 1, 101),
        lambda: p_percent_sensitive([1, 2], -1),
        lambda: dominance_from_top(10, 5, 6, 2, 85),  # second largest above the largest
        lambda: dominance_from_top(10, -5, None, 1, 85),
        lambda: dominance_from_top(10, 5, 1, 3, 85),
    ],
)
def test_rules_reject_impossible_inputs(call):
    with pytest.raises(ValueError):
        call()
