"""The node's trust list: the issuers whose signatures it accepts, and their roles.

`fedaudit node init` writes it from the roster's issuers; from then on it is the node
operator's own file, so a node can trust fewer issuers (or fewer roles) than the roster.
"""

from __future__ import annotations

import base64
import binascii
import tomllib
from dataclasses import dataclass
from pathlib import Path

from node.errors import PolicyError


@dataclass(frozen=True)
class TrustedIssuer:
    id: str
    roles: tuple[str, ...]
    public_key: bytes
    key_id: str


@dataclass(frozen=True)
class TrustList:
    issuers: tuple[TrustedIssuer, ...]

    def by_key_id(self, key_id: str) -> TrustedIssuer | None:
        return next((i for i in self.issuers if i.key_id == key_id), None)


def render_trust_list(issuers) -> str:
    """TOML text for a trust list of roster issuers (anything with id, roles, ed25519)."""
    lines = [
        "# Issuers whose task signatures this node accepts, and the roles each holds.",
        "# Remove an entry (or a role) to stop trusting it; the roster does not override this.",
    ]
    for issuer in issuers:
        roles = ", ".join(f'"{r}"' for r in issuer.roles)
        lines += [
            "",
            "[[issuer]]",
            f'id = "{issuer.id}"',
            f"roles = [{roles}]",
            f'ed25519 = "{base64.b64encode(issuer.ed25519).decode()}"',
        ]
    return "\n".join(lines) + "\n"


def load_trust_list(path: Path) -> TrustList:
    """Reads trust.toml; raises PolicyError if it is missing, empty or invalid."""
    from certs import key_id

    if not path.exists():
        raise PolicyError(
            f"{path} is missing: a node never runs without a trust list. "
            "Recreate it with `fedaudit node init --force` or restore your copy"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML ({exc})") from exc
    entries = data.get("issuer", [])
    if not isinstance(entries, list) or not entries:
        raise PolicyError(f"{path}: no [[issuer]] entries; this node would trust nobody")
    issuers = []
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: issuer[{n}]"
        if not isinstance(entry.get("id"), str) or not entry["id"]:
            raise PolicyError(f"{where}.id must be a non-empty string")
        roles = entry.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
            raise PolicyError(f"{where}.roles must be a list of role names")
        try:
            public_key = base64.b64decode(entry.get("ed25519", ""), validate=True)
        except (binascii.Error, TypeError) as exc:
            raise PolicyError(f"{where}.ed25519 is not base64") from exc
        if len(public_key) != 32:
            raise PolicyError(f"{where}.ed25519 must be a 32-byte Ed25519 public key")
        issuers.append(TrustedIssuer(entry["id"], tuple(roles), public_key, key_id(public_key)))
    return TrustList(tuple(issuers))
