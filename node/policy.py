"""The node's policy file: which tasks it accepts and within which limits.

The defaults are safe: an aggregate needs a `lead`'s signature; anything that returns
tokens or flags needs a `lead` and an `approver` (two different keys); clock skew of two
minutes. Every key is checked, and an error names the key at fault.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from node.errors import PolicyError

DEFAULT_POLICY_TOML = """\
# fedaudit node policy. Every key is optional: the values shown are the defaults.

[approvals]
# Roles whose signatures a task needs, per output kind. A role listed twice needs
# two different signers holding it.
aggregate = ["lead"]
tokens = ["lead", "approver"]
flags = ["lead", "approver"]

[validity]
# How far the issuer's clock may be ahead of or behind ours.
clock_skew_seconds = 120
# The longest validity window (expires_at - issued_at) this node accepts.
max_lifetime_hours = 720

[analyses]
# Library analyses this node runs (glob patterns over analysis ids); deny wins.
allow = ["*"]
deny = []

[limits]
# Resource limits for one analysis run.
memory_limit = "2GB"
threads = 2
timeout_seconds = 600
"""

_OUTPUT_KINDS = ("aggregate", "tokens", "flags")


@dataclass(frozen=True)
class Policy:
    approvals: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "aggregate": ("lead",),
            "tokens": ("lead", "approver"),
            "flags": ("lead", "approver"),
        }
    )
    clock_skew_seconds: int = 120
    max_lifetime_hours: int = 720
    allow: tuple[str, ...] = ("*",)
    deny: tuple[str, ...] = ()
    memory_limit: str = "2GB"
    threads: int = 2
    timeout_seconds: int = 600

    def allows(self, analysis_id: str) -> bool:
        if any(fnmatch.fnmatchcase(analysis_id, pat) for pat in self.deny):
            return False
        return any(fnmatch.fnmatchcase(analysis_id, pat) for pat in self.allow)


_SCHEMA = {
    "approvals": {kind: list for kind in _OUTPUT_KINDS},
    "validity": {"clock_skew_seconds": int, "max_lifetime_hours": int},
    "analyses": {"allow": list, "deny": list},
    "limits": {"memory_limit": str, "threads": int, "timeout_seconds": int},
}


def parse_policy(text: str, source: str = "policy.toml") -> Policy:
    """Parses policy TOML; raises PolicyError naming the key at fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML ({exc})") from exc
    for section, value in data.items():
        if section not in _SCHEMA:
            raise PolicyError(
                f"{source}: unknown section [{section}]; known: {', '.join(_SCHEMA)}"
            )
        if not isinstance(value, dict):
            raise PolicyError(f"{source}: {section} must be a table ([{section}])")
        for key, item in value.items():
            expected = _SCHEMA[section].get(key)
            if expected is None:
                raise PolicyError(f"{source}: unknown key {section}.{key}")
            if not isinstance(item, expected) or isinstance(item, bool):
                raise PolicyError(
                    f"{source}: {section}.{key} must be {_type_name(expected)}, got {item!r}"
                )
            if expected is list and not all(isinstance(v, str) and v for v in item):
                raise PolicyError(f"{source}: {section}.{key} must list non-empty strings")
            if expected is int and item < 0:
                raise PolicyError(f"{source}: {section}.{key} must not be negative")
    defaults = Policy()
    approvals = dict(defaults.approvals)
    for kind, roles in data.get("approvals", {}).items():
        if not roles:
            raise PolicyError(
                f"{source}: approvals.{kind} is empty; a task must need at least one signature"
            )
        approvals[kind] = tuple(roles)
    validity = data.get("validity", {})
    analyses = data.get("analyses", {})
    limits = data.get("limits", {})
    threads = limits.get("threads", defaults.threads)
    if threads < 1:
        raise PolicyError(f"{source}: limits.threads must be at least 1")
    if limits.get("timeout_seconds", defaults.timeout_seconds) < 1:
        raise PolicyError(f"{source}: limits.timeout_seconds must be at least 1")
    return Policy(
        approvals=approvals,
        clock_skew_seconds=validity.get("clock_skew_seconds", defaults.clock_skew_seconds),
        max_lifetime_hours=validity.get("max_lifetime_hours", defaults.max_lifetime_hours),
        allow=tuple(analyses.get("allow", defaults.allow)),
        deny=tuple(analyses.get("deny", defaults.deny)),
        memory_limit=limits.get("memory_limit", defaults.memory_limit),
        threads=threads,
        timeout_seconds=limits.get("timeout_seconds", defaults.timeout_seconds),
    )


def load_policy(path: Path) -> Policy:
    """Reads the policy file; raises PolicyError if it is missing or invalid."""
    if not path.exists():
        raise PolicyError(
            f"{path} is missing: a node never runs without a policy. "
            "Recreate the default with `fedaudit node init` or restore your copy"
        )
    return parse_policy(path.read_text(encoding="utf-8"), source=str(path))


def _type_name(kind: type) -> str:
    return {list: "a list", int: "an integer", str: "a string"}[kind]
