"""Strict reading of TOML tables: typed getters and errors that name the file and the key."""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analyses.errors import ManifestError


def display_path(path: Path) -> str:
    """The path as a user would type it: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except (OSError, ValueError):
        return str(path)


def parse_toml(data: bytes, path: Path) -> dict[str, Any]:
    """Parses TOML bytes; raises ManifestError naming the file when they are not valid TOML."""
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{display_path(path)}: not UTF-8 text ({exc}); save it as UTF-8") \
            from exc
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{display_path(path)}: not valid TOML: {exc}") from exc


def type_name(value: object) -> str:
    """The TOML name of a parsed value's type, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


class Table:
    """One TOML table being read; every getter records the key, `finish` rejects the rest."""

    def __init__(self, data: dict[str, Any], path: Path, prefix: str = "") -> None:
        self.data = data
        self.path = path
        self.prefix = prefix
        self._seen: set[str] = set()

    def key(self, key: str) -> str:
        """The dotted key path of `key` inside this table, as error messages show it."""
        if not key:
            return self.prefix
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> ManifestError:
        """A ManifestError naming the file and the key path."""
        return ManifestError(f"{display_path(self.path)}: {self.key(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, *, required: bool = True) -> Any:
        """The value of `key` untouched; raises ManifestError when required and missing."""
        self._seen.add(key)
        if key not in self.data:
            if required:
                raise self.error(key, "is missing; add it")
            return None
        return self.data[key]

    def string(
        self,
        key: str,
        *,
        required: bool = True,
        check: Callable[[str], str | None] | None = None,
    ) -> str | None:
        """A non-empty string; `check` returns a complaint or None. Raises ManifestError."""
        value = self.raw(key, required=required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, not {type_name(value)}")
        if not value.strip():
            raise self.error(key, "must not be empty")
        if check is not None and (complaint := check(value)):
            raise self.error(key, complaint)
        return value

    def strings(self, key: str, *, required: bool = True, min_items: int = 0) -> tuple[str, ...]:
        """An array of distinct non-empty strings; raises ManifestError."""
        value = self.raw(key, required=required)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.error(key, f"must be an array of strings, not {type_name(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{key}[{i + 1}]", "must be a non-empty string")
        if len(set(value)) != len(value):
            dup = next(v for v in value if value.count(v) > 1)
            raise self.error(key, f"lists {dup!r} twice")
        if len(value) < min_items:
            raise self.error(key, f"needs at least {min_items} item(s)")
        return tuple(value)

    def table(self, key: str, *, required: bool = True) -> Table | None:
        """A sub-table, itself strict; raises ManifestError."""
        value = self.raw(key, required=required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table ([{self.key(key)}]), not {type_name(value)}")
        return Table(value, self.path, self.key(key))

    def tables(self, key: str) -> list[Table]:
        """An array of tables ([[key]]), numbered from 1 in error messages; may be absent."""
        value = self.raw(key, required=False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"must be an array of tables ([[{self.key(key)}]])")
        return [Table(v, self.path, f"{self.key(key)}[{i + 1}]") for i, v in enumerate(value)]

    def finish(self) -> None:
        """Raises ManifestError naming the first key that no getter asked for."""
        for key in self.data:
            if key not in self._seen:
                raise self.error(key, "is not a known key; check its spelling or remove it")
