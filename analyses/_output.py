"""The output declaration of a model: its kind, columns, roles and the rules between them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from analyses._toml import Table

OUTPUT_KINDS = ("aggregate", "tokens", "flags")
#: Column roles each output kind may use.
KIND_ROLES = {
    "aggregate": ("dimension", "measure", "count"),
    "tokens": ("token", "attribute"),
    "flags": ("token", "attribute"),
}
_SIMPLE_TYPES = ("VARCHAR", "DATE", "TIMESTAMP", "INTEGER", "BIGINT", "DOUBLE", "BOOLEAN")
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")
_NUMERIC = ("INTEGER", "BIGINT", "DOUBLE")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
#: The column the node's disclosure engine adds to an aggregate (node.disclosure).
MARKER_COLUMN = "disclosure"
#: Suffixes of a dominance measure's helper columns: its largest and second-largest
#: absolute contribution of one person to the cell. They must match node.disclosure.
HELPER_SUFFIXES = ("__top1", "__top2")
#: The role of a helper column; never declared, derived from `dominance = true`.
HELPER_ROLE = "helper"


@dataclass(frozen=True)
class OutputColumn:
    """One declared output column."""

    name: str
    type: str
    role: str
    description: str
    #: A measure whose node SQL also returns its dominance helper columns.
    dominance: bool = False


def helper_names(measure: str) -> tuple[str, str]:
    """The helper column names of `measure`: (largest, second-largest contribution)."""
    return (measure + HELPER_SUFFIXES[0], measure + HELPER_SUFFIXES[1])


@dataclass(frozen=True)
class Output:
    """What a node releases: the output kind and its columns, in order."""

    kind: str
    columns: tuple[OutputColumn, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def by_role(self, role: str) -> tuple[OutputColumn, ...]:
        return tuple(c for c in self.columns if c.role == role)

    @property
    def helpers(self) -> tuple[OutputColumn, ...]:
        """The dominance helper columns the node SQL returns after the declared columns.

        For each measure with ``dominance = true``, in declaration order, ``<m>__top1`` then
        ``<m>__top2``, of the measure's type. They never leave the node: the disclosure
        engine reads them and drops them.
        """
        helpers = []
        for col in self.columns:
            if col.dominance:
                top1, top2 = helper_names(col.name)
                helpers.append(OutputColumn(top1, col.type, HELPER_ROLE, "The largest absolute "
                                            f"contribution of one person to {col.name} in the "
                                            "cell; dropped before release."))
                helpers.append(OutputColumn(top2, col.type, HELPER_ROLE, "The second-largest "
                                            f"absolute contribution of one person to {col.name} "
                                            "in the cell (NULL with one person); dropped "
                                            "before release."))
        return tuple(helpers)

    @property
    def node_columns(self) -> tuple[OutputColumn, ...]:
        """What the node SQL returns: the declared columns, then the dominance helpers."""
        return (*self.columns, *self.helpers)


def _check_column_type(text: str) -> str | None:
    match = _DECIMAL.match(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        return None if 1 <= precision <= 38 and scale <= precision else "bad DECIMAL(p,s)"
    if text in _SIMPLE_TYPES:
        return None
    return f"{text!r} is not a column type; use one of {', '.join(_SIMPLE_TYPES)}, DECIMAL(p,s)"


def _check_column_name(name: str) -> str | None:
    if not _IDENT.match(name):
        return "use snake_case"
    if name == MARKER_COLUMN:
        return (f"{name} is the marker column the node's disclosure engine adds itself; "
                "rename the column")
    for suffix in HELPER_SUFFIXES:
        if name.endswith(suffix):
            return (f"names ending in {suffix} are reserved for dominance helper columns, "
                    "which are never declared; set dominance = true on the measure instead, "
                    "or rename the column")
    return None


def read_output(table: Table, local_only: Mapping[str, str]) -> Output:
    """Reads [output]; raises ManifestError naming the key that breaks a rule.

    `local_only` maps each local-only column name of the model's datasets to its dataset.
    """
    kind = table.string(
        "kind",
        check=lambda s: None if s in OUTPUT_KINDS else f"use one of {', '.join(OUTPUT_KINDS)}",
    )
    columns = []
    for col in table.tables("column"):
        name = col.string("name", check=_check_column_name)
        if name in local_only:
            raise col.error("name", f"{name} is a local-only column of {local_only[name]} and "
                            "must never leave the node; output an aggregate or a token instead")
        if name in (c.name for c in columns):
            raise col.error("name", f"{name} is declared twice")
        ctype = col.string("type", check=_check_column_type)
        role = col.string(
            "role",
            check=lambda s: None
            if s in KIND_ROLES[kind]
            else f"an {kind} output has roles {', '.join(KIND_ROLES[kind])}, not {s!r}",
        )
        if role == "count" and ctype not in ("INTEGER", "BIGINT"):
            raise col.error("type", "a count column is INTEGER or BIGINT")
        if role == "token" and ctype != "VARCHAR":
            raise col.error("type", "a token column is VARCHAR")
        if role == "measure" and ctype not in _NUMERIC and not _DECIMAL.match(ctype):
            raise col.error("type", "a measure is numeric (INTEGER, BIGINT, DOUBLE, DECIMAL)")
        dominance = col.raw("dominance", required=False)
        if dominance is not None and not isinstance(dominance, bool):
            raise col.error("dominance", "must be true or false")
        if dominance and role != "measure":
            raise col.error("dominance", f"only a measure carries dominance helpers, and "
                            f"{name} is a {role}; remove the key or make the column a measure")
        columns.append(OutputColumn(name, ctype, role, col.string("description"),
                                    bool(dominance)))
        col.finish()
    table.finish()
    output = Output(kind, tuple(columns))
    need = "count" if kind == "aggregate" else "token"
    if len(output.by_role(need)) != 1:
        raise table.error("column", f"an {kind} output needs exactly one {need!r} column, "
                          f"found {len(output.by_role(need))}")
    return output
