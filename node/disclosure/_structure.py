"""Finds the linear structure of an aggregate table: totals over dimensions and region hierarchies.

Two conventions make a row the sum of other rows of the same table:

* **Totals**: a NULL dimension value means "all values of this dimension". In each slice
  (rows equal on every other dimension) the NULL row is the sum of the non-NULL rows.
  This covers a 1-D table with its total, a 2-D table with row and column margins and a
  grand total, and higher dimensions alike.
* **Region hierarchy**: a region dimension holds 6-digit GB/T 2260 codes (province
  ``440000``, city ``440100``, county ``440103``). In each slice a code is the sum of the
  codes whose nearest ancestor present in the slice it is; a NULL region row is then the
  sum of the codes without an ancestor present. A dimension is a region dimension if it
  is called ``region``, ``admdvs`` or ``*_admdvs`` and every value is a 6-digit code, or
  if the caller names it in ``hierarchies={"column": "region"}``.

These are candidate equations: the caller keeps, per column, only those that hold on the
values (a count of distinct persons often does not add up, because one person can be in
two parts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from node.disclosure._errors import DisclosureError

HIERARCHY_KINDS = ("region",)
_REGION_CODE = re.compile(r"^[1-9]\d{5}$")


@dataclass(frozen=True)
class Equation:
    """Row `total` equals the sum of rows `parts`; `source` says which structure implies it."""

    total: int
    parts: tuple[int, ...]
    source: str

    @property
    def cells(self) -> tuple[int, ...]:
        return (self.total, *self.parts)


def is_region_name(name: str) -> bool:
    """Whether a dimension called `name` is taken as a region code when its values fit."""
    return name in ("region", "admdvs") or name.endswith("_admdvs")


def region_ancestors(code: str) -> tuple[str, ...]:
    """The city and province codes above a GB/T 2260 code, nearest first."""
    if code[2:] == "0000":
        return ()
    province = code[:2] + "0000"
    if code[4:] == "00":
        return (province,)
    return (code[:4] + "00", province)


def find_equations(dimensions: Mapping[str, Sequence[object]],
                   hierarchies: Mapping[str, str] | None = None) -> list[Equation]:
    """The candidate equations of a table given its dimension columns (name -> row values).

    Raises DisclosureError DUPLICATE_CELL if two rows share all dimension values, and
    BAD_HIERARCHY if `hierarchies` names a column that is not a dimension, a kind other
    than "region", or a region column holding something other than 6-digit codes.
    """
    names = list(dimensions)
    rows = len(next(iter(dimensions.values()))) if names else 0
    keys = list(zip(*(dimensions[n] for n in names), strict=True)) if names else [()] * rows
    if len(set(keys)) != len(keys):
        raise DisclosureError("DUPLICATE_CELL", "the aggregate has two rows with the same "
                              "dimension values; a model must return one row per cell")
    regions = _region_dimensions(dimensions, hierarchies or {})
    equations: list[Equation] = []
    for d, name in enumerate(names):
        slices: dict[tuple, dict[object, int]] = {}
        for i, key in enumerate(keys):
            value = key[d]
            if name in regions and value is not None:
                value = str(value)
            slices.setdefault(key[:d] + key[d + 1:], {})[value] = i
        for members in slices.values():
            equations.extend(_slice_equations(name, members, name in regions))
    return equations


def _slice_equations(name: str, members: dict[object, int], region: bool) -> list[Equation]:
    total = members.get(None)
    values = [v for v in members if v is not None]
    if not region:
        if total is None or not values:
            return []
        return [Equation(total, tuple(members[v] for v in values), f"total over {name}")]
    present = set(values)
    children: dict[str, list[int]] = {}
    roots = []
    for code in values:
        parent = next((a for a in region_ancestors(code) if a in present), None)
        if parent is None:
            roots.append(members[code])
        else:
            children.setdefault(parent, []).append(members[code])
    found = [Equation(members[p], tuple(kids), f"region hierarchy of {name}")
             for p, kids in children.items()]
    if total is not None and roots:
        found.append(Equation(total, tuple(roots), f"total over {name}"))
    return found


def _region_dimensions(dimensions: Mapping[str, Sequence[object]],
                       hierarchies: Mapping[str, str]) -> set[str]:
    regions = set()
    for name, kind in hierarchies.items():
        if name not in dimensions:
            raise DisclosureError("BAD_HIERARCHY", f"hierarchy column {name} is not a "
                                  "dimension of the output; name a dimension column")
        if kind not in HIERARCHY_KINDS:
            raise DisclosureError("BAD_HIERARCHY", f"hierarchy kind {kind!r} for {name} is "
                                  f"unknown; use one of {', '.join(HIERARCHY_KINDS)}")
        if not _all_codes(dimensions[name]):
            raise DisclosureError("BAD_HIERARCHY", f"region column {name} holds values that "
                                  "are not 6-digit GB/T 2260 codes")
        regions.add(name)
    for name, values in dimensions.items():
        if is_region_name(name) and _all_codes(values):
            regions.add(name)
    return regions


def _all_codes(values: Sequence[object]) -> bool:
    return all(v is None or (not isinstance(v, bool) and _REGION_CODE.match(str(v)))
               for v in values)
