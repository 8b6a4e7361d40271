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


@dataclass(frozen=True)
class OutputColumn:
    """One declared output column."""

    name: str
    type: str
    role: str
    description: str


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


def _check_column_type(text: str) -> str | None:
    match = _DECIMAL.match(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        return None if 1 <= precision <= 38 and scale <= precision else "bad DECIMAL(p,s)"
    if text in _SIMPLE_TYPES:
        return None
    return f"{text!r} is not a column type; use one of {', '.join(_SIMPLE_TYPES)}, DECIMAL(p,s)"


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
        name = col.string("name", check=lambda s: None if _IDENT.match(s) else "use snake_case")
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
        columns.append(OutputColumn(name, ctype, role, col.string("description")))
        col.finish()
    table.finish()
    output = Output(kind, tuple(columns))
    need = "count" if kind == "aggregate" else "token"
    if len(output.by_role(need)) != 1:
        raise table.error("column", f"an {kind} output needs exactly one {need!r} column, "
                          f"found {len(output.by_role(need))}")
    return output
