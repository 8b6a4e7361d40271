"""The node's policy file: which tasks it accepts and within which limits.

The defaults are safe: an aggregate needs a `lead`'s signature; anything that returns
tokens or flags needs a `lead` and an `approver` (two different keys); clock skew of two
minutes; disclosure control at statistical output-checking defaults (see
`DisclosurePolicy`). Every key is checked, and an error names the key at fault.
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

[disclosure]
# What an output must satisfy before it leaves this node (the disclosure engine).
# A released cell or statistic needs at least this many distinct persons.
min_contributors = 10
# "allowed": a cell counting 0 persons is released; "disclosive": it is suppressed too.
zeros = "allowed"
# (n, k) dominance on sums: a cell whose n largest contributors (n = 1 or 2) hold more
# than k percent of its total is suppressed.
dominance_n = 2
dominance_k = 85
# p% rule: a cell is suppressed if the total minus its two largest contributions is
# below p percent of the largest one. 0 switches the rule off; 10 is common practice.
p_percent = 0
# An output with more rows than this is refused, never truncated.
max_rows = 100000
# A text value longer than this is refused: no free text leaves. Tokens are 64 characters,
# so keep it at 64 or more if this node returns tokens or flags.
max_string_length = 64
# Token and flag sets are padded with random dummy tokens to a multiple of this size.
token_bucket = 1000

[release]
# Per output kind: "auto" sends the disclosed output at once; "manual" keeps it at the
# node until an operator previews it and releases or withholds it.
aggregate = "auto"
tokens = "auto"
flags = "auto"

[linkage]
# Days after a linkage task expires during which this node keeps its task key, so that
# returned tokens can be re-identified and cases verified. Then the key is erased.
verification_days = 180
"""

_OUTPUT_KINDS = ("aggregate", "tokens", "flags")
ZERO_POLICIES = ("allowed", "disclosive")
RELEASE_MODES = ("auto", "manual")


@dataclass(frozen=True)
class DisclosurePolicy:
    """The `[disclosure]` and `[release]` sections: the rules every output passes at the node.

    The defaults follow statistical output-checking practice: at least 10 contributors
    per cell (ABS, UK LLC, ACRO), (2, 85) dominance (sdcTable's default), the p% rule off
    unless the owner sets p, zeros released (as DataSHIELD and sdcTable do), and automatic
    release, so a fresh node answers tasks while its owner still reads the file.
    """

    min_contributors: int = 10
    zeros: str = "allowed"
    dominance_n: int = 2
    dominance_k: int = 85
    p_percent: int = 0
    max_rows: int = 100_000
    max_string_length: int = 64
    token_bucket: int = 1000
    release: dict[str, str] = field(
        default_factory=lambda: {kind: "auto" for kind in _OUTPUT_KINDS}
    )

    def settings(self) -> dict[str, dict[str, object]]:
        """The effective values, by TOML section, as receipts and `policy show` report them."""
        return {
            "disclosure": {
                "min_contributors": self.min_contributors,
                "zeros": self.zeros,
                "dominance_n": self.dominance_n,
                "dominance_k": self.dominance_k,
                "p_percent": self.p_percent,
                "max_rows": self.max_rows,
                "max_string_length": self.max_string_length,
                "token_bucket": self.token_bucket,
            },
            "release": dict(self.release),
        }

    def release_mode(self, kind: str) -> str:
        """"auto" or "manual" for output kind `kind`; raises KeyError for an unknown kind."""
        return self.release[kind]


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
    disclosure: DisclosurePolicy = field(default_factory=DisclosurePolicy)
    verification_days: int = 180

    def allows(self, analysis_id: str) -> bool:
        if any(fnmatch.fnmatchcase(analysis_id, pat) for pat in self.deny):
            return False
        return any(fnmatch.fnmatchcase(analysis_id, pat) for pat in self.allow)


_SCHEMA = {
    "approvals": {kind: list for kind in _OUTPUT_KINDS},
    "validity": {"clock_skew_seconds": int, "max_lifetime_hours": int},
    "analyses": {"allow": list, "deny": list},
    "limits": {"memory_limit": str, "threads": int, "timeout_seconds": int},
    "disclosure": {
        "min_contributors": int, "zeros": str, "dominance_n": int, "dominance_k": int,
        "p_percent": int, "max_rows": int, "max_string_length": int, "token_bucket": int,
    },
    "release": {kind: str for kind in _OUTPUT_KINDS},
    "linkage": {"verification_days": int},
}
#: (lowest, highest, why) for each integer key of [disclosure]; highest None = no bound.
_DISCLOSURE_RANGES = {
    "min_contributors": (1, None, "at least 1"),
    "dominance_n": (1, 2, "1 or 2"),
    "dominance_k": (1, 100, "between 1 and 100"),
    "p_percent": (0, 100, "between 0 (rule off) and 100"),
    "max_rows": (1, None, "at least 1"),
    "max_string_length": (1, None, "at least 1"),
    "token_bucket": (1, None, "at least 1"),
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
        disclosure=_disclosure_policy(data, source),
        verification_days=data.get("linkage", {}).get("verification_days",
                                                      defaults.verification_days),
    )


def _disclosure_policy(data: dict, source: str) -> DisclosurePolicy:
    """Builds the [disclosure] and [release] settings, whose types are already checked."""
    section = data.get("disclosure", {})
    for key, (low, high, why) in _DISCLOSURE_RANGES.items():
        value = section.get(key)
        if value is not None and (value < low or (high is not None and value > high)):
            raise PolicyError(f"{source}: disclosure.{key} must be {why}, got {value}")
    zeros = section.get("zeros", DisclosurePolicy.zeros)
    if zeros not in ZERO_POLICIES:
        raise PolicyError(f"{source}: disclosure.zeros must be \"allowed\" or \"disclosive\", "
                          f"got {zeros!r}")
    release = DisclosurePolicy().release
    for kind, mode in data.get("release", {}).items():
        if mode not in RELEASE_MODES:
            raise PolicyError(f"{source}: release.{kind} must be \"auto\" or \"manual\", "
                              f"got {mode!r}")
        release[kind] = mode
    values = {key: section[key] for key in _DISCLOSURE_RANGES if key in section}
    return DisclosurePolicy(zeros=zeros, release=release, **values)


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
