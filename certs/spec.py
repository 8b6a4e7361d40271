"""The federation spec (spec.toml): who takes part, read with tomllib and validated strictly.

Errors name the file and the key at fault, counting array entries from 1 as a reader
counts the `[[node]]` blocks: `spec.toml: node[2].level must be one of ministry,
province, registry (got 'provence')`. Keys the spec does not know are ignored.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from certs.ca import address_host
from certs.errors import CertsError, SpecError

__all__ = [
    "LEVELS",
    "RESERVED_IDS",
    "FederationSpec",
    "IssuerSpec",
    "NodeSpec",
    "OfficeSpec",
    "load_spec",
    "parse_spec",
]

#: The levels of a node: the ministry, a province, or a national registry.
LEVELS = ("ministry", "province", "registry")
#: Folder names provisioning uses itself, so no party may take them.
RESERVED_IDS = ("coordinator", "federation")

_PARTY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_REGION = re.compile(r"[0-9]{6}")
#: The federation name goes into certificate subjects (at most 64 characters there).
_MAX_NAME = 40


@dataclass(frozen=True)
class NodeSpec:
    """One `[[node]]`: a province, a registry, or the ministry."""

    id: str
    level: str
    region: str
    datasets: tuple[str, ...] = ()


@dataclass(frozen=True)
class IssuerSpec:
    """One `[[issuer]]`: a person who signs tasks, with the approval roles they hold."""

    id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class OfficeSpec:
    """One `[[office]]`: a reader of shared results (TLS identity only)."""

    id: str


@dataclass(frozen=True)
class FederationSpec:
    """A whole validated spec.toml."""

    name: str
    coordinator: str
    nodes: tuple[NodeSpec, ...]
    issuers: tuple[IssuerSpec, ...]
    offices: tuple[OfficeSpec, ...]

    def party_ids(self) -> tuple[str, ...]:
        """Every party id in the spec, nodes first, then issuers, then offices."""
        return tuple(p.id for p in (*self.nodes, *self.issuers, *self.offices))


def load_spec(path: str | os.PathLike) -> FederationSpec:
    """Reads and validates a federation spec.

    Raises SpecError naming the file and the key at fault when the file is missing,
    is not TOML, or breaks a rule (party ids, levels, regions, roles, uniqueness).
    """
    where = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"{where}: no such spec file") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{where}: not UTF-8 text; save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{where}: not valid TOML: {exc}") from exc
    return parse_spec(data, where)


def parse_spec(data: dict, where: str = "spec.toml") -> FederationSpec:
    """Validates a parsed spec; raises SpecError prefixed with where."""
    try:
        return _parse(data)
    except CertsError as exc:
        raise SpecError(f"{where}: {exc}") from exc


def _parse(data: dict) -> FederationSpec:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME \
            or any(ord(c) < 32 for c in name):
        raise CertsError(f"name must be the federation's name, 1 to {_MAX_NAME} printable "
                         f"characters (got {name!r})")
    coordinator = data.get("coordinator")
    if not isinstance(coordinator, str):
        raise CertsError(f"coordinator must be the coordinator's HOST:PORT as a string "
                         f"(got {coordinator!r})")
    try:
        address_host(coordinator)
    except CertsError as exc:
        raise CertsError(f"coordinator: {exc}") from exc
    nodes = tuple(
        NodeSpec(
            id=check_party_id(entry.get("id"), f"{key}.id"),
            level=check_level(entry.get("level"), f"{key}.level"),
            region=check_region(entry.get("region"), f"{key}.region"),
            datasets=check_names(entry.get("datasets", []), f"{key}.datasets", allow_empty=True),
        )
        for key, entry in _tables(data, "node")
    )
    issuers = tuple(
        IssuerSpec(
            id=check_party_id(entry.get("id"), f"{key}.id"),
            roles=check_names(entry.get("roles"), f"{key}.roles", allow_empty=False),
        )
        for key, entry in _tables(data, "issuer")
    )
    offices = tuple(
        OfficeSpec(id=check_party_id(entry.get("id"), f"{key}.id"))
        for key, entry in _tables(data, "office")
    )
    spec = FederationSpec(name, coordinator, nodes, issuers, offices)
    seen: dict[str, str] = {}
    for kind in ("node", "issuer", "office"):
        for n, entry in enumerate(getattr(spec, f"{kind}s"), start=1):
            if entry.id in seen:
                raise CertsError(f"{kind}[{n}].id {entry.id!r} is already used by "
                                 f"{seen[entry.id]}; party ids must be unique across "
                                 "nodes, issuers and offices")
            seen[entry.id] = f"{kind}[{n}]"
    return spec


def _tables(data: dict, kind: str):
    """Yields (key, table) for each `[[kind]]` entry; raises CertsError on a wrong shape."""
    entries = data.get(kind, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CertsError(f"{kind} must be an array of tables: write each one as [[{kind}]]")
    for n, entry in enumerate(entries, start=1):
        yield f"{kind}[{n}]", entry


def check_party_id(value: object, key: str = "id") -> str:
    """Returns value if it is a valid, unreserved party id; raises CertsError naming key."""
    if not isinstance(value, str) or not _PARTY_ID.fullmatch(value):
        raise CertsError(f"{key} must be 1 to 63 lowercase letters, digits or '-', starting "
                         f"with a letter or digit (got {value!r})")
    if value in RESERVED_IDS:
        raise CertsError(f"{key} {value!r} is reserved for provisioning's own folders; "
                         "choose another id")
    return value


def check_level(value: object, key: str = "level") -> str:
    """Returns value if it is a node level; raises CertsError naming key."""
    if value not in LEVELS:
        raise CertsError(f"{key} must be one of {', '.join(LEVELS)} (got {value!r})")
    return value  # type: ignore[return-value]


def check_region(value: object, key: str = "region") -> str:
    """Returns value if it is a 6-digit region code string; raises CertsError naming key."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise CertsError(f"{key} must be a quoted 6-digit region code such as \"440000\" "
                         f"(got the number {value})")
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise CertsError(f"{key} must be a 6-digit GB/T 2260 region code such as \"440000\" "
                         f"(got {value!r})")
    return value


def check_names(value: object, key: str, *, allow_empty: bool) -> tuple[str, ...]:
    """Returns value as a tuple if it is a list of non-empty strings; raises CertsError."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CertsError(f"{key} must be a list of non-empty strings (got {value!r})")
    if not value and not allow_empty:
        raise CertsError(f"{key} must name at least one role, for example [\"lead\"]")
    if len(set(value)) != len(value):
        raise CertsError(f"{key} lists a name twice (got {value!r})")
    return tuple(value)
