"""The engine's entry point: checks common to every output kind, then the kind's own control."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from analyses.datasets import load_standard
from node.disclosure._aggregate import MARKER_COLUMN, disclose_aggregate, helper_columns
from node.disclosure._errors import DisclosureError
from node.disclosure._tokens import disclose_tokens
from node.policy import DisclosurePolicy

#: Arrow type checks for the declared column types that are not numbers.
_TYPE_CHECKS = {
    "VARCHAR": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)
    or pa.types.is_string_view(t),
    "DATE": pa.types.is_date,
    "TIMESTAMP": pa.types.is_timestamp,
    "BOOLEAN": pa.types.is_boolean,
}


@dataclass(frozen=True)
class Disclosed:
    """What may leave the node (`table`) and how the policy shaped it (`summary`).

    `summary["local"]`, when present, holds exact sizes for the node's own log only; use
    `public_summary` for receipts and anything else that leaves.
    """

    table: pa.Table
    summary: dict = field(default_factory=dict)

    @property
    def public_summary(self) -> dict:
        """The summary without its `local` part: safe to sign into a receipt."""
        return {key: value for key, value in self.summary.items() if key != "local"}


def apply_disclosure(model, table: pa.Table, policy: DisclosurePolicy, *,
                     rng: random.Random | None = None,
                     hierarchies: Mapping[str, str] | None = None) -> Disclosed:
    """Applies the node's disclosure policy to `model`'s output `table`.

    Keeps only the manifest's declared columns, in order; an `aggregate` gains the marker
    column `disclosure` and has its sensitive cells (and their cover) set to NULL; `tokens`
    and `flags` are de-duplicated (tokens) and padded. `rng` draws dummy tokens (default:
    the system's secure generator); `hierarchies` names extra region dimensions
    (``{"column": "region"}``). Raises DisclosureError, whose `public` sentence carries no
    data, when the output must not leave at all: a declared column missing or of the wrong
    type, a local-only column, a text value longer than `max_string_length`, more rows
    than `max_rows`, or a kind-specific refusal.
    """
    output = model.output
    names = list(output.names)
    if MARKER_COLUMN in names:
        raise DisclosureError("BAD_MODEL", f"the model declares a column named {MARKER_COLUMN}, "
                              "which the disclosure engine adds itself; rename it")
    local_only = _local_only(model)
    leaking = [n for n in names if n in local_only]
    if leaking:
        raise DisclosureError("LOCAL_ONLY_COLUMN", f"output column {leaking[0]} is local-only "
                              "in a dataset the model reads and must never leave the node")
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise DisclosureError("MISSING_COLUMN", f"the output lacks the declared column "
                              f"{missing[0]}; the model's SQL must return every declared column")
    _check_types(output, table)
    if table.num_rows > policy.max_rows:
        raise DisclosureError("TOO_MANY_ROWS", "the output has more rows than this node "
                              f"releases ({policy.max_rows}, disclosure.max_rows); narrow "
                              "the task's parameters", detail=f"{table.num_rows} rows")
    _check_strings(output, table, policy.max_string_length)
    keep = list(names)
    if output.kind == "aggregate":
        for col in output.by_role("measure"):
            keep.extend(h for h in helper_columns(col.name) if h in table.column_names)
        released, summary = disclose_aggregate(output, table.select(keep), policy, hierarchies)
        expected = [*names, MARKER_COLUMN]
    else:
        released, summary = disclose_tokens(output, table.select(keep), policy, rng)
        expected = names
    # Defence in depth: whatever the kind's code did, only these columns leave.
    if released.column_names != expected:
        raise DisclosureError("BAD_MODEL", "the disclosed output's columns differ from the "
                              "declaration; this is a bug in the disclosure engine")
    return Disclosed(released, summary)


def _local_only(model) -> set[str]:
    return {col for names in model.datasets.values() for name in names
            for col in load_standard(name).local_only_columns}


def _check_types(output, table: pa.Table) -> None:
    numeric = ("measure", "count")
    for col in output.columns:
        arrow_type = table.schema.field(col.name).type
        if col.role in numeric or col.type in ("INTEGER", "BIGINT", "DOUBLE") \
                or col.type.startswith("DECIMAL"):
            ok = pa.types.is_integer(arrow_type) or (
                col.role != "count" and (pa.types.is_floating(arrow_type)
                                         or pa.types.is_decimal(arrow_type)))
        else:
            ok = _TYPE_CHECKS[col.type](arrow_type)
        if not ok:
            raise DisclosureError("TYPE_MISMATCH", f"output column {col.name} is declared "
                                  f"{col.type} but holds {arrow_type}; the model's SQL must "
                                  "return the declared type", detail=str(arrow_type))


def _check_strings(output, table: pa.Table, limit: int) -> None:
    for col in output.columns:
        data = table.column(col.name)
        if col.type != "VARCHAR" or len(data) == 0:
            continue
        longest = pc.max(pc.utf8_length(data)).as_py()
        if longest is not None and longest > limit:
            raise DisclosureError("FREE_TEXT", f"column {col.name} holds a value longer than "
                                  f"{limit} characters (disclosure.max_string_length); free "
                                  "text never leaves the node", detail=f"{longest} characters")
