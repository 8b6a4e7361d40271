"""Describing certificates, keys, rosters and kits for `fedaudit certs show`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certs.ca import ROLES, fingerprint, load_certificate
from certs.errors import CertsError, RosterError
from certs.kit import KIT_FILE, load_kit, role_files
from certs.roster import ROSTER_FORMAT, Roster, load_roster, read_roster_unverified
from certs.signing import _load_pem_private_key, key_id


def describe(path: Path, admin_public_key: bytes | None) -> dict:
    """A dict describing the file at path, with a "kind" key; raises CertsError.

    admin_public_key, when given, is used to verify a roster (RosterError on failure).
    """
    if path.is_dir():
        return describe_kit(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CertsError(f"{path}: no such file") from exc
    if path.name == KIT_FILE:
        return describe_kit(path)
    if data.lstrip().startswith(b"{"):
        return describe_roster(path, admin_public_key)
    if b"-----BEGIN CERTIFICATE-----" in data:
        return describe_certificate(load_certificate(data))
    if b"PRIVATE KEY-----" in data:
        return describe_key(_load_pem_private_key(path), private=True)
    if b"PUBLIC KEY-----" in data:
        try:
            return describe_key(serialization.load_pem_public_key(data), private=False)
        except ValueError as exc:
            raise CertsError(f"{path} is not a readable PEM public key") from exc
    try:
        return describe_certificate(load_certificate(data))
    except CertsError:
        raise CertsError(f"{path} is not a certificate, key, roster or kit.toml that fedaudit "
                         "knows; give a file from a kit or from the federation folder") from None


def describe_certificate(cert: x509.Certificate) -> dict:
    """Subject, identity, issuer, validity, SANs and fingerprint of a certificate."""
    def first(oid):
        values = cert.subject.get_attributes_for_oid(oid)
        return values[0].value if values else None

    try:
        sans = [str(n.value) for n in
                cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound:
        sans = []
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    role = first(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return {
        "kind": "certificate",
        "subject": cert.subject.rfc4514_string(),
        "party_id": None if is_ca or role not in ROLES else first(NameOID.COMMON_NAME),
        "role": None if is_ca or role not in ROLES else role,
        "federation": first(NameOID.ORGANIZATION_NAME),
        "ca": is_ca,
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sans": sans,
        "fingerprint": fingerprint(cert),
    }


def describe_key(key, *, private: bool) -> dict:
    """Type, public key and key id of a key; never the private bytes."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        public = (key.public_key() if private else key).public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        key_type = f"ECDSA {key.curve.name} (TLS)"
    else:
        public_key = key.public_key() if private else key
        try:
            public = public_key.public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)
        except ValueError as exc:
            raise CertsError(f"unsupported key type {type(key).__name__}") from exc
        key_type = type(public_key).__name__.replace("PublicKey", "")
    return {
        "kind": "private key" if private else "public key",
        "type": key_type,
        "public_key": base64.b64encode(public).decode("ascii"),
        "key_id": key_id(public),
    }


def describe_roster(path: Path, admin_public_key: bytes | None) -> dict:
    """A roster's header and parties; verified when admin_public_key is given."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CertsError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != ROSTER_FORMAT:
        raise CertsError(f"{path} is JSON but not a fedaudit roster")
    if admin_public_key is None:
        roster, signer = read_roster_unverified(path)
        status = "not checked"
    else:
        roster = load_roster(path, admin_public_key)
        signer, status = key_id(admin_public_key), "verified"
    return {"kind": "roster", **_roster_header(roster), "signer": signer,
            "signature": status, "parties": [_party(p) for p in roster.parties]}


def describe_kit(path: Path) -> dict:
    """A kit's identity, its files, and its roster's version (verified)."""
    kit = load_kit(path)
    try:
        roster = kit.roster()
        roster_text = f"version {roster.version} (signature verified)"
    except RosterError as exc:
        roster_text = f"does not verify: {exc}"
    return {
        "kind": "kit",
        "path": str(kit.path),
        "federation": kit.federation,
        "party_id": kit.party_id,
        "role": kit.role,
        "coordinator": kit.coordinator,
        "level": kit.level,
        "region": kit.region,
        "datasets": list(kit.datasets),
        "roles": list(kit.roles),
        "admin_key_id": key_id(kit.admin_public_key),
        "files": list(role_files(kit.role)),
        "roster": roster_text,
    }


def render(info: dict) -> str:
    """The human-readable text of a describe() result."""
    kind = info["kind"]
    if kind == "roster":
        lines = [f"roster of federation {info['federation']!r}, version {info['version']}",
                 f"  issued at    {info['issued_at']}",
                 f"  coordinator  {info['coordinator']}",
                 f"  signer       {info['signer']}"]
        if info["signature"] == "verified":
            lines.append("  signature verified against the pinned admin key")
        else:
            lines.append("  signature not checked: give --kit KIT or --admin-key admin.pub "
                         "to verify it")
        lines.append(f"  parties ({len(info['parties'])}):")
        width = max((len(p["id"]) for p in info["parties"]), default=0)
        for p in info["parties"]:
            lines.append(f"    {p['id']:<{width}}  {p['role']:<11} {_party_detail(p)}")
        return "\n".join(lines)
    labels = {key: key.replace("_", " ") for key in info if key != "kind"}
    width = max(len(label) for label in labels.values())
    lines = [kind]
    for key, label in labels.items():
        value = info[key]
        if isinstance(value, list):
            value = ", ".join(value) if value else "-"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif value is None:
            value = "-"
        lines.append(f"  {label:<{width}}  {value}")
    return "\n".join(lines)


def _roster_header(roster: Roster) -> dict:
    return {"federation": roster.federation, "version": roster.version,
            "issued_at": roster.issued_at, "coordinator": roster.coordinator}


def _party(party) -> dict:
    return {
        "id": party.id,
        "role": party.role,
        "level": party.level,
        "region": party.region,
        "datasets": list(party.datasets),
        "roles": list(party.roles),
        "tls_fingerprint": party.tls_fingerprint,
        "ed25519_key_id": key_id(party.ed25519) if party.ed25519 else None,
        "x25519_key_id": key_id(party.x25519) if party.x25519 else None,
    }


def _party_detail(p: dict) -> str:
    parts = []
    if p["level"]:
        parts.append(f"{p['level']} {p['region']}")
    if p["datasets"]:
        parts.append("datasets=" + ",".join(p["datasets"]))
    if p["roles"]:
        parts.append("roles=" + ",".join(p["roles"]))
    if p["ed25519_key_id"]:
        parts.append(f"ed25519={p['ed25519_key_id']}")
    if p["x25519_key_id"]:
        parts.append(f"x25519={p['x25519_key_id']}")
    parts.append(f"tls={p['tls_fingerprint'][:16]}")
    return "  ".join(parts)

