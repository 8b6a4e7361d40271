"""Typed analysis parameters: their declaration in a manifest, parsing from text and checking."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from analyses._toml import Table, type_name
from analyses.errors import ParameterError

#: The parameter types a manifest may declare, with an example value for messages.
PARAMETER_TYPES = {
    "int": "42",
    "float": "0.5",
    "decimal": "1234.50",
    "date": "2024-01-31",
    "month": "2024-01 (a date on the 1st)",
    "string": "any text",
    "bool": "true or false",
    "code": "one of its choices",
}

#: Types with an order, so they may carry `min`, `max` and `parameter_order` rules.
ORDERED_TYPES = frozenset({"int", "float", "decimal", "date", "month"})

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_INT = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def _a(kind: str) -> str:
    """The type name with its article: "a month", "an int"."""
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def format_value(value: object) -> str:
    """A parameter value as a person would write it."""
    if isinstance(value, dt.date | decimal.Decimal):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _coerce(kind: str, value: object) -> object:
    """The value as the Python type of `kind`, or raises TypeError / ValueError."""
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return float(value)
    if kind == "decimal" and isinstance(value, decimal.Decimal | int) and not isinstance(
        value, bool
    ):
        value = decimal.Decimal(value)
        if not value.is_finite():
            raise ValueError("must be a finite number")
        return value
    if kind in ("date", "month") and isinstance(value, dt.date) and not isinstance(
        value, dt.datetime
    ):
        return value
    if kind in ("string", "code") and isinstance(value, str):
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    got = type(value).__name__
    raise TypeError(f"expects {_a(kind)} (e.g. {PARAMETER_TYPES[kind]}), got {got}")


@dataclass(frozen=True)
class Parameter:
    """One declared parameter; `default` None means the parameter is required."""

    name: str
    type: str
    description: str
    default: object = None
    min: object = None
    max: object = None
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is None

    def violation(self, value: object) -> str | None:
        """What rule a correctly typed value breaks, as a phrase, or None."""
        if self.type == "month" and value.day != 1:
            return f"{value} is not on the 1st of a month; use {value.replace(day=1)}"
        if self.min is not None and value < self.min:
            return f"{format_value(value)} is below min {format_value(self.min)}"
        if self.max is not None and value > self.max:
            return f"{format_value(value)} is above max {format_value(self.max)}"
        if self.choices and value not in self.choices:
            return f"{format_value(value)} is not one of {', '.join(self.choices)}"
        return None

    def check(self, value: object) -> object:
        """The value typed and checked against every rule; raises ParameterError."""
        try:
            typed = _coerce(self.type, value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"parameter {self.name}: {exc}") from exc
        if problem := self.violation(typed):
            raise ParameterError(f"parameter {self.name}: {problem}")
        return typed

    def parse(self, text: str) -> object:
        """Coerces a command-line string to this parameter's type and checks it.

        Raises ParameterError when the text is not a value of the type or breaks a rule.
        """
        try:
            value = self._parse(text if self.type in ("string", "code") else text.strip())
        except (ValueError, decimal.InvalidOperation) as exc:
            raise ParameterError(
                f"parameter {self.name}: {text!r} is not {_a(self.type)}; "
                f"write e.g. {PARAMETER_TYPES[self.type]}"
            ) from exc
        return self.check(value)

    def _parse(self, text: str) -> object:
        if self.type == "int":
            if not _INT.match(text):
                raise ValueError(text)
            return int(text)
        if self.type == "float":
            return float(text)
        if self.type == "decimal":
            return decimal.Decimal(text)
        if self.type == "date":
            if not _DATE.match(text):
                raise ValueError(text)
            return dt.date.fromisoformat(text)
        if self.type == "month":
            match = _MONTH.match(text)
            if not match:
                raise ValueError(text)
            return dt.date(int(match.group(1)), int(match.group(2)), 1)
        if self.type == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
        return text

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly description (dates and decimals as strings)."""
        def plain(v: object) -> object:
            return str(v) if isinstance(v, dt.date | decimal.Decimal) else v

        out: dict[str, object] = {"name": self.name, "type": self.type}
        out["required"] = self.required
        for key in ("default", "min", "max"):
            if getattr(self, key) is not None:
                out[key] = plain(getattr(self, key))
        if self.choices:
            out["choices"] = list(self.choices)
        out["description"] = self.description
        return out


def _toml_value(table: Table, key: str, kind: str) -> object:
    """A default/min/max written in TOML, as the parameter's Python type; raises ManifestError."""
    value = table.raw(key, required=False)
    if value is None:
        return None
    if kind == "decimal" and isinstance(value, str):
        try:
            value = decimal.Decimal(value)
        except decimal.InvalidOperation as exc:
            raise table.error(key, f"{value!r} is not a decimal number") from exc
    elif kind == "decimal" and isinstance(value, float):
        raise table.error(key, 'write a decimal as a string, e.g. "12.50", so no precision is lost')
    try:
        return _coerce(kind, value)
    except (TypeError, ValueError):
        hint = "a TOML date such as 2024-01-01 (no quotes)" if kind in ("date", "month") else ""
        raise table.error(
            key, f"must be {hint or _a(kind) + ' value'}, not {type_name(value)}"
        ) from None


def parameter_from_toml(table: Table) -> Parameter:
    """Reads one [[parameter]] table; raises ManifestError naming the key at fault."""
    name = table.string(
        "name",
        check=lambda s: None if _NAME.match(s) else "use lower_snake_case, e.g. period_start",
    )
    kind = table.string(
        "type",
        check=lambda s: None
        if s in PARAMETER_TYPES
        else f"{s!r} is not a parameter type; use one of {', '.join(PARAMETER_TYPES)}",
    )
    description = table.string("description")
    for key in ("min", "max"):
        if table.has(key) and kind not in ORDERED_TYPES:
            raise table.error(key, f"a {kind} parameter has no order; remove {key}")
    bounds = {key: _toml_value(table, key, kind) for key in ("min", "max")}
    choices = ()
    if kind == "code":
        choices = table.strings("choices", min_items=1)
    elif table.has("choices"):
        raise table.error("choices", 'only a parameter of type "code" has choices')
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        low, high = (format_value(bounds[k]) for k in ("min", "max"))
        raise table.error("min", f"{low} is above max {high}")
    param = Parameter(name, kind, description, None, bounds["min"], bounds["max"], choices)
    for key, value in bounds.items():
        if kind == "month" and value is not None and value.day != 1:
            raise table.error(key, f"{value} is not on the 1st of a month")
    default = _toml_value(table, "default", kind)
    if default is not None and (problem := param.violation(default)):
        raise table.error("default", problem)
    table.finish()
    return Parameter(name, kind, description, default, param.min, param.max, choices)


def check_order(params: Mapping[str, Parameter], pair: Sequence[str]) -> str | None:
    """Why an ordering rule [a, b] cannot apply to these parameters, or None."""
    if len(pair) != 2 or pair[0] == pair[1]:
        return "each rule is a pair of two different parameter names, e.g. [\"start\", \"end\"]"
    for name in pair:
        if name not in params:
            return f"{name!r} is not a declared parameter"
        if params[name].type not in ORDERED_TYPES:
            return f"{name!r} is a {params[name].type} parameter, which has no order"
    first, second = (params[n].type for n in pair)
    dates = {"date", "month"}
    if first != second and not {first, second} <= dates:
        return f"{pair[0]!r} ({first}) and {pair[1]!r} ({second}) cannot be compared"
    a, b = (params[n].default for n in pair)
    if a is not None and b is not None and a > b:
        return f"the defaults break it: {pair[0]} = {a} is after {pair[1]} = {b}"
    return None


def bind(
    analysis_id: str,
    parameters: Iterable[Parameter],
    order: Iterable[tuple[str, str]],
    values: Mapping[str, object],
) -> dict[str, object]:
    """Typed values with defaults filled, in declaration order; raises ParameterError."""
    declared = {p.name: p for p in parameters}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        known = ", ".join(declared) or "none"
        raise ParameterError(
            f"parameter {unknown[0]} is not a parameter of {analysis_id}; "
            f"its parameters are: {known}"
        )
    bound: dict[str, object] = {}
    for name, param in declared.items():
        if name in values and values[name] is not None:
            bound[name] = param.check(values[name])
        elif param.required:
            raise ParameterError(
                f"parameter {name} is required: give {_a(param.type)}, e.g. "
                f"{PARAMETER_TYPES[param.type]}"
            )
        else:
            bound[name] = param.default
    for first, second in order:
        if bound[first] > bound[second]:
            raise ParameterError(
                f"parameter {first} ({format_value(bound[first])}) must not be after "
                f"{second} ({format_value(bound[second])})"
            )
    return bound


def parse_assignments(
    analysis_id: str, parameters: Iterable[Parameter], items: Iterable[str]
) -> dict[str, object]:
    """Splits NAME=VALUE strings and parses each value by its parameter's type.

    Raises ParameterError for a malformed item, an unknown or repeated name, or a bad value.
    """
    declared = {p.name: p for p in parameters}
    values: dict[str, object] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"{item!r} is not NAME=VALUE, e.g. period_start=2024-01")
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise ParameterError(
                f"parameter {name} is not a parameter of {analysis_id}; "
                f"its parameters are: {known}"
            )
        if name in values:
            raise ParameterError(f"parameter {name} is given twice")
        values[name] = declared[name].parse(text)
    return values
