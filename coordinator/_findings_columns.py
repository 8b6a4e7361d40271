"""How findings read a result's columns: roles declared by the model or guessed from the
columns, and the few per-model hints that roles alone cannot give."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

#: Columns the coordinator adds to a combined aggregate (coordinator.combine).
MARKERS = ("lower_bound", "suppressed_parts")
#: Columns that name the node a row came from (as in coordinator._scope).
NODE_COLUMNS = ("node", "node_id")
#: Integer columns of an unknown model read as the count of subjects, in preference order.
COUNT_NAMES = ("persons", "households", "institutions", "subjects", "matched", "cases",
               "dwellings", "count")


@dataclass(frozen=True)
class Hint:
    """What a model's output roles alone do not say about how to render it.

    ``style`` is ``finding`` (sentences), ``table`` (a summary per node) or ``auto``;
    ``unit`` names what the count column counts (persons, households, institutions,
    records, dwellings); ``amount`` names the money column; for a table, ``entity`` is the
    dimension one block of rows describes (its facts repeat on each of its rows, so they
    are read once per entity) and ``summary`` lists (column, sum|max|min) to show.
    ``count`` names the column a finding counts when it is not the output's count column;
    ``totals`` names a dimension whose empty value marks the rows that total the others
    (only those rows are read, so that nothing is counted twice).
    """

    style: str = "auto"
    unit: str | None = None
    amount: str | None = None
    entity: str | None = None
    summary: tuple[tuple[str, str], ...] = ()
    count: str | None = None
    totals: str | None = None


#: The per-model hints. Models not listed are rendered from their output roles.
HINTS: dict[str, Hint] = {
    # SA-03: the finding is the persons not enrolled, read from each region's total row
    # (target_persons, the output's count, is its denominator).
    "assistance.not_enrolled": Hint(unit="persons", count="not_enrolled", totals="program"),
    "dq.dataset_quality": Hint(
        style="table", unit="records", entity="dataset",
        summary=(("rows", "sum"), ("invalid_ids", "sum"), ("missing_months", "sum"),
                 ("lag_days", "max"))),
}


@dataclass(frozen=True)
class Columns:
    """The result's columns by the part they play in a finding."""

    group: str | None
    regions: tuple[str, ...]
    dims: tuple[str, ...]
    period: str | None
    count: str | None
    amount: str | None
    measures: tuple[str, ...]
    unit: str


#: Words in a count column's name (else its description) that say what it counts.
UNIT_WORDS = (("persons", ("person", "people", "人员")), ("households", ("household", "户")),
              ("institutions", ("institution", "hospital", "entit", "机构")),
              ("dwellings", ("dwelling", "套")), ("records", ("rows", "record", "条")))


def unit_of(name: str, description: str = "") -> str:
    """What a count column counts; persons unless its name or description says otherwise."""
    for text in (name.lower(), description.lower()):
        for unit, words in UNIT_WORDS:
            if any(word in text for word in words):
                return unit
    return "persons"


def roles_of(schema: pa.Schema, model) -> dict[str, str]:
    """Column -> role: declared by the model, else guessed from name and type."""
    declared = {c.name: c.role for c in model.output.columns} if model is not None else {}
    roles = {}
    for f in schema:
        if f.name in MARKERS:
            continue
        if f.name in declared and declared[f.name] in ("dimension", "count", "measure"):
            roles[f.name] = declared[f.name]
        elif pa.types.is_integer(f.type):
            roles[f.name] = "count" if f.name in COUNT_NAMES else "measure"
        elif pa.types.is_decimal(f.type) or pa.types.is_floating(f.type):
            roles[f.name] = "measure"
        else:
            roles[f.name] = "dimension"
    return roles


def read_columns(schema: pa.Schema, model, hint: Hint) -> Columns:
    """The result's columns by role: the node or region columns that split it by
    province, the other dimensions, the period, the count and the money (a DECIMAL
    measure, preferably one named like "amount")."""
    roles = roles_of(schema, model)
    dims = [n for n, r in roles.items() if r == "dimension"]
    group = next((n for n in NODE_COLUMNS if n in dims), None)
    regions = tuple(n for n in dims if n.lower() == "region" or n.lower().endswith("admdvs"))
    counts = sorted((n for n, r in roles.items() if r == "count"),
                    key=lambda n: COUNT_NAMES.index(n) if n in COUNT_NAMES else -1)
    count = hint.count if hint.count in roles else counts[0] if counts else None
    money = [n for n, r in roles.items() if r == "measure"
             and pa.types.is_decimal(schema.field(n).type)]
    amount = hint.amount or next((n for n in money if "amount" in n), money[0] if money else None)
    period = next((n for n in dims if n in ("period", "month")
                   or n.endswith(("_period", "_month"))), None)
    description = ""
    if model is not None and count is not None:
        description = next((c.description for c in model.output.columns if c.name == count), "")
    return Columns(
        group=group, regions=regions,
        dims=tuple(n for n in dims if n != group and n not in regions),
        period=period, count=count, amount=amount,
        measures=tuple(n for n, r in roles.items()
                       if r in ("measure", "count") and n not in (amount, count)),
        unit=hint.unit or unit_of(count or "", description))


def as_date(value) -> dt.date | None:
    """A date from a date, a datetime or ISO text ("2024-03-01", "2024-03"); else None."""
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    text = str(value)
    try:
        return dt.date.fromisoformat(text[:10] if len(text) >= 10 else text[:7] + "-01")
    except ValueError:
        return None


