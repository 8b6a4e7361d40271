"""Disclosure control of an `aggregate`: primary rules per cell, then secondary suppression."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

import pyarrow as pa
import pyarrow.compute as pc

from node.disclosure._errors import DisclosureError
from node.disclosure._rules import (
    RULES,
    dominance_from_top,
    p_percent_from_top,
    threshold_rule,
)
from node.disclosure._secondary import secondary_suppression
from node.disclosure._structure import find_equations
from node.policy import DisclosurePolicy

#: The engine's own column: NULL for a released cell, else why it was suppressed.
MARKER_COLUMN = "disclosure"
PRIMARY = "primary"
SECONDARY = "secondary"
#: Suffixes of the optional helper columns carrying a measure's two largest contributions.
TOP_SUFFIXES = ("__top1", "__top2")


def helper_columns(measure: str) -> tuple[str, str]:
    """The names of the helper columns for `measure`: (largest, second-largest)."""
    return (measure + TOP_SUFFIXES[0], measure + TOP_SUFFIXES[1])


def disclose_aggregate(output, table: pa.Table, policy: DisclosurePolicy,
                       hierarchies: Mapping[str, str] | None) -> tuple[pa.Table, dict]:
    """Suppresses the cells of an aggregate that `policy` does not allow, and their cover.

    `output` is the model's declared output; `table` has passed the engine's common checks.
    Returns the released table (declared columns plus MARKER_COLUMN) and the summary.
    Raises DisclosureError BAD_COUNT, BAD_HELPER, DUPLICATE_CELL, BAD_HIERARCHY or
    UNPROTECTABLE.
    """
    count_name = output.by_role("count")[0].name
    measures = [c.name for c in output.by_role("measure")]
    dimensions = [c.name for c in output.by_role("dimension")]
    counts = table.column(count_name).to_pylist()
    if any(c is None or c < 0 for c in counts):
        raise DisclosureError("BAD_COUNT", f"the count column {count_name} has an empty or "
                              "negative value; every cell must carry its number of persons")
    rows = table.num_rows
    hits = {rule: 0 for rule in RULES}
    primary: set[int] = set()
    for i, count in enumerate(counts):
        rule = threshold_rule(count, policy.min_contributors, policy.zeros)
        if rule:
            hits[rule] += 1
            primary.add(i)
    values = {name: _fractions(table.column(name)) for name in measures}
    checked = []
    for name in measures:
        tops = _helper_values(table, name)
        if tops is None:
            continue
        checked.append(name)
        for i, (total, (top1, top2)) in enumerate(zip(values[name], tops, strict=True)):
            for rule, sensitive in _dominance_rules(total, top1, top2, policy):
                if sensitive:
                    hits[rule] += 1
                    primary.add(i)
    equations = find_equations({d: table.column(d).to_pylist() for d in dimensions},
                               hierarchies)
    columns = {count_name: ([Fraction(c) for c in counts], False)}
    for name in measures:
        columns[name] = (values[name], pa.types.is_floating(table.column(name).type))
    secondary = secondary_suppression(equations, columns, counts, primary)
    released = _suppress(table, output, [count_name, *measures], primary, secondary)
    summary = {
        "kind": "aggregate",
        "settings": policy.settings(),
        "cells": rows,
        "released": rows - len(primary) - len(secondary),
        "suppressed": {PRIMARY: len(primary), SECONDARY: len(secondary)},
        "rule_hits": hits,
        "dominance_checked": checked,
        "equations": len(equations),
    }
    return released, summary


def _dominance_rules(total, top1, top2, policy: DisclosurePolicy):
    if total is None or (top1 is None and top2 is None):
        return
    top1 = top1 if top1 is not None else Fraction(0)
    yield "dominance", dominance_from_top(total, top1, top2, policy.dominance_n,
                                          policy.dominance_k)
    if policy.p_percent:
        yield "p_percent", p_percent_from_top(total, top1, top2, policy.p_percent)


def _helper_values(table: pa.Table, measure: str) -> list[tuple] | None:
    """The (top1, top2) pairs of `measure`, or None if the table has no helper columns."""
    names = helper_columns(measure)
    present = [n for n in names if n in table.column_names]
    if not present:
        return None
    if len(present) == 1:
        raise DisclosureError("BAD_HELPER", f"the output has {present[0]} without its pair; "
                              f"return both {names[0]} and {names[1]} or neither")
    pairs = list(zip(*(_fractions(table.column(n)) for n in names), strict=True))
    for top1, top2 in pairs:
        if (top1 is not None and top1 < 0) or (top2 is not None and top2 < 0) or (
            top2 is not None and (top1 is None or top2 > top1)
        ):
            raise DisclosureError("BAD_HELPER", f"{names[0]} and {names[1]} must hold the "
                                  "largest and second-largest absolute contribution per cell "
                                  "(non-negative, largest first)")
    return pairs


def _fractions(column: pa.ChunkedArray) -> list[Fraction | None]:
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
            or pa.types.is_decimal(column.type)):
        raise DisclosureError("TYPE_MISMATCH", "a measure, count or helper column is not "
                              "numeric; declare it INTEGER, BIGINT, DOUBLE or DECIMAL")
    result = []
    for v in column.to_pylist():
        if v is None:
            result.append(None)
        elif isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            raise DisclosureError("TYPE_MISMATCH", "a measure holds NaN or infinity; the "
                                  "model must return finite numbers")
        else:
            result.append(Fraction(v))
    return result


def _suppress(table: pa.Table, output, hidden: Sequence[str], primary: set[int],
              secondary: set[int]) -> pa.Table:
    marker = [PRIMARY if i in primary else SECONDARY if i in secondary else None
              for i in range(table.num_rows)]
    mask = pa.array([m is not None for m in marker], type=pa.bool_())
    arrays, fields = [], []
    for col in output.columns:
        data = table.column(col.name)
        if col.name in hidden:
            data = pc.if_else(mask, pa.scalar(None, type=data.type), data)
        arrays.append(data)
        fields.append(table.schema.field(col.name))
    arrays.append(pa.array(marker, type=pa.string()))
    fields.append(pa.field(MARKER_COLUMN, pa.string()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
