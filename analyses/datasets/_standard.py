"""Parses and checks the TOML declarations of the standard datasets into frozen dataclasses."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from analyses.errors import AnalysisError

#: Column types a standard may use; ingest casts every column to exactly one of these.
TYPES = frozenset(
    {"VARCHAR", "DATE", "TIMESTAMP", "INTEGER", "BIGINT", "DECIMAL(14,2)", "DOUBLE", "BOOLEAN"}
)
#: Node levels that can hold a dataset (DESIGN §2, the roster's `level`).
LEVELS = frozenset({"province", "registry", "ministry"})
#: Columns every standard carries for timeliness and lineage (reference §3.0).
LINEAGE_COLUMNS = ("data_as_of", "src_system", "load_batch_id")

_TOP_KEYS = {
    "name": str, "title_zh": str, "title_en": str, "version": int, "levels": list,
    "period_column": str, "id_column": str, "key": list, "date_order": list, "column": list,
}
_TOP_REQUIRED = ("name", "title_zh", "title_en", "version", "levels", "key", "column")
_COLUMN_KEYS = {
    "name": str, "type": str, "required": bool, "local_only": bool, "codes": (list, dict),
    "max_length": int, "pattern": str, "title_zh": str,
}
_COLUMN_REQUIRED = ("name", "type", "required")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


class DatasetStandardError(AnalysisError):
    """A dataset standard file that is invalid; the message names the file and the key."""


class UnknownDataset(DatasetStandardError, KeyError):
    """A dataset name that has no standard; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message; keep it readable.
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Column:
    """One column of a standard dataset."""

    name: str
    type: str
    required: bool
    local_only: bool = False
    #: The allowed values, or None if any value is allowed.
    codes: tuple[str, ...] | None = None
    #: Meaning of each code (may be empty when the standard lists bare codes).
    code_labels: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, hash=False
    )
    max_length: int | None = None
    #: A regular expression every non-null value must match in full.
    pattern: str | None = None
    title_zh: str | None = None


@dataclass(frozen=True)
class DatasetStandard:
    """A parsed, checked dataset standard (one `analyses/datasets/<name>.toml`).

    A required column must be present in every file and non-empty in every row, except
    `id_column` (the national ID, always local-only): ingest normalises it, adds an
    `id_status` column to the snapshot, and keeps rows with an empty or invalid ID
    (status `missing`, `bad_checksum`, ...) instead of rejecting the file. Beyond the
    codes, `max_length` and `pattern` (a regular expression every value must match in
    full, e.g. 6-digit region codes) are checked; `period_column` values must be on the
    first of a month, and each `date_order` pair must satisfy end >= start.
    """

    name: str
    title_zh: str
    title_en: str
    version: int
    levels: tuple[str, ...]
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    period_column: str | None = None
    id_column: str | None = None
    date_order: tuple[tuple[str, str], ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def local_only_columns(self) -> frozenset[str]:
        """Direct identifiers: they never appear in any output that leaves the node."""
        return frozenset(c.name for c in self.columns if c.local_only)

    @property
    def types(self) -> dict[str, str]:
        """Column name to DuckDB type, in declaration order."""
        return {c.name: c.type for c in self.columns}

    def column(self, name: str) -> Column:
        """Returns the named column; raises DatasetStandardError if there is none."""
        for c in self.columns:
            if c.name == name:
                return c
        raise DatasetStandardError(
            f"dataset {self.name} has no column {name!r}; its columns are "
            f"{', '.join(self.column_names)}"
        )


def parse_standard(path: Path) -> DatasetStandard:
    """Reads and checks one standard file; raises DatasetStandardError naming file and key."""
    where = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DatasetStandardError(f"{where}: cannot read the standard: {exc}") from exc
    _check_keys(raw, _TOP_KEYS, _TOP_REQUIRED, where)
    name = raw["name"]
    if name != path.stem:
        raise DatasetStandardError(f"{where}: key 'name' is {name!r}; it must equal the file "
                                   f"name {path.stem!r}")
    if raw["version"] < 1:
        raise DatasetStandardError(f"{where}: key 'version' must be a positive integer")
    levels = _str_list(raw["levels"], f"{where}: key 'levels'")
    bad = sorted(set(levels) - LEVELS)
    if not levels or bad:
        raise DatasetStandardError(f"{where}: key 'levels' must list some of "
                                   f"{sorted(LEVELS)}; got {levels}")
    columns = tuple(_parse_column(c, f"{where}: column[{i}]")
                    for i, c in enumerate(raw["column"]))
    by_name = {c.name: c for c in columns}
    if len(by_name) != len(columns):
        raise DatasetStandardError(f"{where}: a column name appears twice")
    for lineage in LINEAGE_COLUMNS:
        if lineage not in by_name or by_name[lineage].required:
            raise DatasetStandardError(f"{where}: every standard declares the optional "
                                       f"column {lineage!r}")
    key = _str_list(raw["key"], f"{where}: key 'key'")
    for k in key:
        _known(k, by_name, f"{where}: key 'key'")
    period = raw.get("period_column")
    if period is not None and _known(period, by_name, f"{where}: key 'period_column'").type \
            != "DATE":
        raise DatasetStandardError(f"{where}: key 'period_column' must name a DATE column")
    id_column = raw.get("id_column")
    if id_column is not None:
        col = _known(id_column, by_name, f"{where}: key 'id_column'")
        if col.type != "VARCHAR" or not col.local_only:
            raise DatasetStandardError(f"{where}: key 'id_column' must name a local-only "
                                       f"VARCHAR column")
    pairs = []
    for i, pair in enumerate(raw.get("date_order", [])):
        at = f"{where}: key 'date_order[{i}]'"
        pair = _str_list(pair, at)
        if len(pair) != 2:
            raise DatasetStandardError(f"{at} must be a [start, end] pair of column names")
        for c in pair:
            if _known(c, by_name, at).type not in ("DATE", "TIMESTAMP"):
                raise DatasetStandardError(f"{at}: column {c!r} is not a DATE or TIMESTAMP")
        pairs.append((pair[0], pair[1]))
    return DatasetStandard(
        name=name, title_zh=raw["title_zh"], title_en=raw["title_en"], version=raw["version"],
        levels=tuple(levels), key=tuple(key), columns=columns, period_column=period,
        id_column=id_column, date_order=tuple(pairs),
    )


def _parse_column(raw: Any, where: str) -> Column:
    if not isinstance(raw, dict):
        raise DatasetStandardError(f"{where} must be a table")
    _check_keys(raw, _COLUMN_KEYS, _COLUMN_REQUIRED, where)
    name = raw["name"]
    where = f"{where} ({name})"
    if not _NAME_RE.fullmatch(name):
        raise DatasetStandardError(f"{where}: key 'name' must be lower snake_case")
    ctype = raw["type"]
    if ctype not in TYPES:
        raise DatasetStandardError(f"{where}: key 'type' is {ctype!r}; use one of "
                                   f"{sorted(TYPES)}")
    codes, labels = None, {}
    if "codes" in raw:
        if ctype != "VARCHAR":
            raise DatasetStandardError(f"{where}: key 'codes' is only allowed on VARCHAR")
        if isinstance(raw["codes"], dict):
            labels = raw["codes"]
            if not all(isinstance(v, str) for v in labels.values()):
                raise DatasetStandardError(f"{where}: key 'codes' must map codes to labels")
            codes = tuple(labels)
        else:
            codes = tuple(_str_list(raw["codes"], f"{where}: key 'codes'"))
        if not codes or len(set(codes)) != len(codes):
            raise DatasetStandardError(f"{where}: key 'codes' must list distinct codes")
    if "max_length" in raw and (ctype != "VARCHAR" or raw["max_length"] < 1):
        raise DatasetStandardError(f"{where}: key 'max_length' needs a VARCHAR column and a "
                                   f"positive length")
    pattern = raw.get("pattern")
    if pattern is not None:
        if ctype != "VARCHAR":
            raise DatasetStandardError(f"{where}: key 'pattern' is only allowed on VARCHAR")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise DatasetStandardError(f"{where}: key 'pattern' is not a regex: {exc}") from exc
    return Column(
        name=name, type=ctype, required=raw["required"],
        local_only=raw.get("local_only", False), codes=codes,
        code_labels=MappingProxyType(dict(labels)), max_length=raw.get("max_length"),
        pattern=pattern, title_zh=raw.get("title_zh"),
    )


def _check_keys(raw: dict, allowed: dict, required: tuple, where: str) -> None:
    for key, value in raw.items():
        if key not in allowed:
            raise DatasetStandardError(f"{where}: unknown key {key!r}; allowed keys are "
                                       f"{', '.join(allowed)}")
        want = allowed[key]
        # bool is an int in Python; a version of `true` must not pass as an integer.
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise DatasetStandardError(f"{where}: key {key!r} has the wrong type "
                                       f"({type(value).__name__})")
    for key in required:
        if key not in raw:
            raise DatasetStandardError(f"{where}: missing key {key!r}")


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetStandardError(f"{where} must be a list of strings")
    return value


def _known(name: str, by_name: dict[str, Column], where: str) -> Column:
    if name not in by_name:
        raise DatasetStandardError(f"{where} names {name!r}, which is not a column")
    return by_name[name]
