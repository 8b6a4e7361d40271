"""The roster: the federation's signed list of parties and their public keys.

On disk a roster is JSON: `{"format": "fedaudit-roster/v1", "payload": <base64 of the
payload JSON bytes>, "signature": <base64>, "signer": <key id of the admin key>}`. The
admin signs `b"fedaudit-roster/v1\\n" + payload_bytes`; readers verify those exact bytes
before parsing them, so nothing is ever re-serialised between signing and checking.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path

from certs.ca import ROLES
from certs.errors import BadSignature, RosterError
from certs.signing import key_id, public_bytes, sign, verify_signature
from certs.spec import LEVELS

__all__ = [
    "ROSTER_FORMAT",
    "Party",
    "Roster",
    "load_roster",
    "parse_roster",
    "read_roster_unverified",
    "sign_roster",
]

ROSTER_FORMAT = "fedaudit-roster/v1"
_SIGNING_PREFIX = ROSTER_FORMAT.encode("ascii") + b"\n"


@dataclass(frozen=True)
class Party:
    """One party of the federation as the roster lists it."""

    id: str
    role: str
    level: str | None
    region: str | None
    datasets: tuple[str, ...]
    roles: tuple[str, ...]
    tls_fingerprint: str
    ed25519: bytes | None
    x25519: bytes | None

    def to_payload(self) -> dict:
        """This party as a JSON-friendly dict in the roster payload's shape."""
        return {
            "id": self.id,
            "role": self.role,
            "level": self.level,
            "region": self.region,
            "datasets": list(self.datasets),
            "roles": list(self.roles),
            "tls_fingerprint": self.tls_fingerprint,
            "ed25519": _b64(self.ed25519),
            "x25519": _b64(self.x25519),
        }


@dataclass(frozen=True)
class Roster:
    """A verified roster: which parties exist, with which keys, in which version."""

    federation: str
    version: int
    issued_at: str
    coordinator: str
    parties: tuple[Party, ...]

    def party(self, party_id: str) -> Party | None:
        """The party with this id, or None."""
        return next((p for p in self.parties if p.id == party_id), None)

    def nodes(self) -> tuple[Party, ...]:
        """The nodes, in roster order."""
        return tuple(p for p in self.parties if p.role == "node")

    def issuers(self) -> tuple[Party, ...]:
        """The issuers, in roster order."""
        return tuple(p for p in self.parties if p.role == "issuer")

    def offices(self) -> tuple[Party, ...]:
        """The offices, in roster order."""
        return tuple(p for p in self.parties if p.role == "office")

    def to_payload(self) -> dict:
        """This roster as a payload dict, ready for `sign_roster`."""
        return {
            "federation": self.federation,
            "version": self.version,
            "issued_at": self.issued_at,
            "coordinator": self.coordinator,
            "parties": [p.to_payload() for p in self.parties],
        }


def sign_roster(roster_payload: dict, admin_key) -> bytes:
    """Returns the contents of a roster.json signed by admin_key (Ed25519).

    The payload is checked first, so a malformed roster is never signed. Raises
    RosterError naming the faulty field, or CertsError if admin_key is not Ed25519.
    """
    _parse_payload(roster_payload, "roster payload")
    payload_bytes = json.dumps(roster_payload, sort_keys=True, ensure_ascii=False,
                               separators=(",", ":")).encode("utf-8")
    document = {
        "format": ROSTER_FORMAT,
        "payload": base64.b64encode(payload_bytes).decode("ascii"),
        "signature": base64.b64encode(sign(admin_key, _SIGNING_PREFIX + payload_bytes))
        .decode("ascii"),
        "signer": key_id(public_bytes(admin_key)),
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def load_roster(path: str | os.PathLike, admin_public_key: bytes) -> Roster:
    """Reads a roster file and verifies it against the pinned admin public key (raw 32 bytes).

    Raises RosterError if the file is missing or malformed, was signed by another key,
    or its signature does not verify.
    """
    return parse_roster(_read(path), admin_public_key, str(path))


def parse_roster(data: bytes, admin_public_key: bytes, where: str = "roster") -> Roster:
    """Verifies and parses the bytes of a roster file; raises RosterError like load_roster."""
    document, payload_bytes, signature = _open_document(data, where)
    expected = key_id(bytes(admin_public_key))
    if document["signer"] != expected:
        raise RosterError(
            f"{where} is signed by key {document['signer']}, but the pinned admin key is "
            f"{expected}: this roster belongs to another federation, or was forged"
        )
    try:
        verify_signature(bytes(admin_public_key), signature, _SIGNING_PREFIX + payload_bytes)
    except BadSignature as exc:
        raise RosterError(f"{where}: the signature does not verify; the roster was changed "
                          "after signing. Fetch a fresh copy from the federation admin") from exc
    return _parse_payload(_json(payload_bytes, f"{where}: payload"), where)


def read_roster_unverified(path: str | os.PathLike) -> tuple[Roster, str]:
    """Parses a roster WITHOUT checking its signature; returns (roster, signer key id).

    For display only (`fedaudit certs show`): never trust what this returns. Raises
    RosterError if the file is malformed.
    """
    where = str(path)
    document, payload_bytes, _ = _open_document(_read(path), where)
    return _parse_payload(_json(payload_bytes, f"{where}: payload"), where), document["signer"]


def _read(path: str | os.PathLike) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise RosterError(f"{path}: no such roster file; every kit holds a roster.json "
                          "written by `fedaudit certs provision`") from exc
    except IsADirectoryError as exc:
        raise RosterError(f"{path} is a folder, not a roster file") from exc


def _json(data: bytes, where: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RosterError(f"{where} is not valid JSON ({exc})") from exc


def _open_document(data: bytes, where: str) -> tuple[dict, bytes, bytes]:
    """Checks the outer JSON shape; returns (document, payload bytes, signature)."""
    document = _json(data, where)
    if not isinstance(document, dict) or document.get("format") != ROSTER_FORMAT:
        raise RosterError(f"{where} is not a fedaudit roster (format must be {ROSTER_FORMAT!r})")
    for field in ("payload", "signature", "signer"):
        if not isinstance(document.get(field), str):
            raise RosterError(f"{where}: {field} must be a string")
    payload = _unb64(document["payload"], f"{where}: payload")
    signature = _unb64(document["signature"], f"{where}: signature")
    return document, payload, signature


def _parse_payload(payload: object, where: str) -> Roster:
    """Builds a Roster from a payload dict; raises RosterError naming the faulty field."""
    if not isinstance(payload, dict):
        raise RosterError(f"{where}: the payload must be a JSON object")
    for field in ("federation", "issued_at", "coordinator"):
        if not isinstance(payload.get(field), str) or not payload[field]:
            raise RosterError(f"{where}: {field} must be a non-empty string")
    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RosterError(f"{where}: version must be an integer from 1 (got {version!r})")
    entries = payload.get("parties")
    if not isinstance(entries, list):
        raise RosterError(f"{where}: parties must be a list")
    parties = tuple(_parse_party(entry, f"{where}: parties[{n}]")
                    for n, entry in enumerate(entries, start=1))
    ids = [p.id for p in parties]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RosterError(f"{where}: party ids listed twice: {', '.join(duplicates)}")
    return Roster(payload["federation"], version, payload["issued_at"],
                  payload["coordinator"], parties)


def _parse_party(entry: object, where: str) -> Party:
    if not isinstance(entry, dict):
        raise RosterError(f"{where} must be a JSON object")
    party_id, role = entry.get("id"), entry.get("role")
    if not isinstance(party_id, str) or not party_id:
        raise RosterError(f"{where}.id must be a non-empty string")
    if role not in ROLES:
        raise RosterError(f"{where}.role must be one of {', '.join(ROLES)} (got {role!r})")
    level, region = entry.get("level"), entry.get("region")
    if role == "node" and (level not in LEVELS or not isinstance(region, str)):
        raise RosterError(f"{where}: a node needs a level ({', '.join(LEVELS)}) and a region")
    if role != "node" and (level is not None or region is not None):
        raise RosterError(f"{where}: only nodes have a level and a region")
    datasets = _strings(entry.get("datasets", []), f"{where}.datasets")
    roles = _strings(entry.get("roles", []), f"{where}.roles")
    fp = entry.get("tls_fingerprint")
    if not isinstance(fp, str) or len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp):
        raise RosterError(f"{where}.tls_fingerprint must be 64 lowercase hex digits")
    ed = _optional_key(entry.get("ed25519"), f"{where}.ed25519")
    xk = _optional_key(entry.get("x25519"), f"{where}.x25519")
    needs_ed, needs_x = role in ("node", "issuer"), role == "node"
    if (ed is not None) != needs_ed or (xk is not None) != needs_x:
        raise RosterError(f"{where}: a {role} must have "
                          f"{'an' if needs_ed else 'no'} Ed25519 key and "
                          f"{'an' if needs_x else 'no'} X25519 key")
    return Party(party_id, role, level, region, datasets, roles, fp, ed, xk)


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RosterError(f"{where} must be a list of non-empty strings")
    return tuple(value)


def _optional_key(value: object, where: str) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RosterError(f"{where} must be base64 or null")
    raw = _unb64(value, where)
    if len(raw) != 32:
        raise RosterError(f"{where} must be a raw 32-byte public key")
    return raw


def _unb64(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RosterError(f"{where} is not valid base64") from exc


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")
