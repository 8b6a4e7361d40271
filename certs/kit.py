"""A party's kit: the folder `fedaudit certs provision` writes for one party, read back.

A kit holds `kit.toml` (who the party is and the pinned roster signer), the CA
certificate, the party's TLS certificate and key, the roster, and, by role, an Ed25519
signing key (nodes, issuers) and an X25519 key for receiving wrapped task keys (nodes).
"""

from __future__ import annotations

import base64
import binascii
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from certs.ca import ROLES
from certs.errors import CertsError
from certs.roster import Roster, load_roster
from certs.signing import load_private_key
from certs.spec import LEVELS

__all__ = ["KIT_FILE", "Kit", "install_kit", "load_kit", "role_files"]

KIT_FILE = "kit.toml"
_HOW = "kits are written by `fedaudit certs provision`"


def role_files(role: str) -> tuple[str, ...]:
    """The files a kit of this role holds, kit.toml included."""
    files = (KIT_FILE, "ca.crt", "tls.crt", "tls.key", "roster.json")
    if role in ("node", "issuer"):
        files += ("signing.key",)
    if role == "node":
        files += ("x25519.key",)
    return files


@dataclass(frozen=True)
class Kit:
    """One party's kit, as described by its kit.toml."""

    path: Path
    federation: str
    party_id: str
    role: str
    coordinator: str
    level: str | None
    region: str | None
    datasets: tuple[str, ...]
    roles: tuple[str, ...]
    admin_public_key: bytes

    @property
    def ca_cert(self) -> Path:
        """The federation CA certificate (PEM)."""
        return self.path / "ca.crt"

    @property
    def tls_cert(self) -> Path:
        """This party's TLS certificate (PEM)."""
        return self.path / "tls.crt"

    @property
    def tls_key(self) -> Path:
        """This party's TLS private key (PEM, mode 0600)."""
        return self.path / "tls.key"

    @property
    def signing_key_path(self) -> Path:
        """This party's Ed25519 signing key (nodes and issuers only)."""
        return self.path / "signing.key"

    @property
    def x25519_key_path(self) -> Path:
        """This party's X25519 key for wrapped task keys (nodes only)."""
        return self.path / "x25519.key"

    @property
    def roster_path(self) -> Path:
        """The copy of the signed roster kept in this kit."""
        return self.path / "roster.json"

    def signing_key(self) -> Ed25519PrivateKey:
        """The Ed25519 signing key; raises CertsError if this kit has none or it is unreadable."""
        if self.role not in ("node", "issuer"):
            raise CertsError(f"{self.path} is a {self.role} kit and has no signing key; "
                             "only node and issuer kits can sign")
        key = load_private_key(self.signing_key_path)
        if not isinstance(key, Ed25519PrivateKey):
            raise CertsError(f"{self.signing_key_path} is not an Ed25519 key; re-issue the kit")
        return key

    def x25519_key(self) -> X25519PrivateKey:
        """The X25519 key-wrapping key; raises CertsError if this kit has none."""
        if self.role != "node":
            raise CertsError(f"{self.path} is a {self.role} kit and has no X25519 key; "
                             "only node kits receive wrapped task keys")
        key = load_private_key(self.x25519_key_path)
        if not isinstance(key, X25519PrivateKey):
            raise CertsError(f"{self.x25519_key_path} is not an X25519 key; re-issue the kit")
        return key

    def roster(self) -> Roster:
        """The kit's roster, verified against the pinned admin key.

        Raises RosterError if it is missing, malformed, or not signed by the pinned key.
        """
        return load_roster(self.roster_path, self.admin_public_key)


def load_kit(path: str | os.PathLike) -> Kit:
    """Reads the kit in folder path (or the kit.toml at path).

    Raises CertsError with what to do when the folder is not a kit, kit.toml is
    invalid, or a file the kit's role needs is missing.
    """
    path = Path(path)
    if path.name == KIT_FILE and path.is_file():
        path = path.parent
    if not path.is_dir():
        raise CertsError(f"{path}: no such kit folder; {_HOW}")
    toml_path = path / KIT_FILE
    where = str(toml_path)
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CertsError(f"{path} is not a fedaudit kit: {KIT_FILE} missing; {_HOW}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CertsError(f"{where}: not valid TOML ({exc}); re-issue the kit") from exc
    role = data.get("role")
    if role not in ROLES:
        raise CertsError(f"{where}: role must be one of {', '.join(ROLES)} (got {role!r})")
    kit = Kit(
        path=path,
        federation=_text(data, "federation", where),
        party_id=_text(data, "party_id", where),
        role=role,
        coordinator=_text(data, "coordinator", where),
        level=_text(data, "level", where) if role == "node" else None,
        region=_text(data, "region", where) if role == "node" else None,
        datasets=_names(data, "datasets", where) if role == "node" else (),
        roles=_names(data, "roles", where) if role == "issuer" else (),
        admin_public_key=_admin_key(data, where),
    )
    if kit.level is not None and kit.level not in LEVELS:
        raise CertsError(f"{where}: level must be one of {', '.join(LEVELS)} (got {kit.level!r})")
    missing = [name for name in role_files(role) if not (path / name).is_file()]
    if missing:
        raise CertsError(f"kit {path} is incomplete: {', '.join(missing)} missing; "
                         "ask the federation admin for a fresh copy of the kit")
    return kit


def _text(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise CertsError(f"{where}: {key} must be a non-empty string (got {value!r})")
    return value


def _names(data: dict, key: str, where: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CertsError(f"{where}: {key} must be a list of strings (got {value!r})")
    return tuple(value)


def _admin_key(data: dict, where: str) -> bytes:
    value = data.get("admin_public_key")
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise CertsError(f"{where}: admin_public_key must be the base64 of the 32-byte roster "
                         "signer key; ask the federation admin for a fresh copy of the kit")
    return raw


def install_kit(kit_path: str | os.PathLike, dest: str | os.PathLike, role: str) -> Kit:
    """Copies a kit of the given role to dest (replacing an older copy atomically) and
    returns it loaded from there. Raises CertsError for a kit of another role or one
    whose roster does not verify against its pinned signer."""
    import shutil

    kit = load_kit(kit_path)
    if kit.role != role:
        raise CertsError(f"{kit_path} is a {kit.role} kit; a {role} kit is needed here")
    kit.roster()
    dest = Path(dest)
    if dest.resolve() != Path(kit.path).resolve():
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(kit.path, tmp)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    return load_kit(dest)
