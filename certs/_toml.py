"""A minimal TOML writer for the flat files provisioning writes (kit.toml)."""

from __future__ import annotations

import json


def dumps(values: dict[str, object], comment: str = "") -> str:
    """Renders a flat table of strings, integers, booleans and lists of strings as TOML.

    A JSON string literal is also a valid TOML basic string, so json.dumps does the
    quoting. Raises TypeError for any other kind of value.
    """
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    for key, value in values.items():
        lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
