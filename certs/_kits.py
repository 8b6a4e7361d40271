"""Making one party's keys and certificate, and writing its kit folder."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from certs import _toml
from certs._files import make_private_dir, write_file
from certs.ca import address_host, fingerprint, issue_certificate, new_tls_key
from certs.kit import KIT_FILE
from certs.roster import Party
from certs.signing import public_bytes, save_private_key


@dataclass(frozen=True)
class NewParty:
    """A party's freshly made secrets and certificate, and its roster entry."""

    party: Party
    tls_key: ec.EllipticCurvePrivateKey
    tls_cert: x509.Certificate
    signing_key: Ed25519PrivateKey | None
    x25519_key: X25519PrivateKey | None


def new_party(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, *,
              federation: str, coordinator: str, party_id: str, role: str,
              level: str | None = None, region: str | None = None,
              datasets: tuple[str, ...] = (), roles: tuple[str, ...] = ()) -> NewParty:
    """Makes the keys a party of this role holds and its CA-signed TLS certificate.

    Nodes get an Ed25519 and an X25519 key, issuers an Ed25519 key, offices and the
    coordinator none (the coordinator must not be able to sign anything). Only the
    coordinator's certificate names the coordinator's host. Raises CertsError.
    """
    tls_key = new_tls_key()
    hosts = (address_host(coordinator),) if role == "coordinator" else ()
    tls_cert = issue_certificate(ca_cert, ca_key, party_id=party_id, role=role,
                                 federation=federation, public_key=tls_key.public_key(),
                                 hosts=hosts)
    signing_key = Ed25519PrivateKey.generate() if role in ("node", "issuer") else None
    x25519_key = X25519PrivateKey.generate() if role == "node" else None
    party = Party(
        id=party_id,
        role=role,
        level=level if role == "node" else None,
        region=region if role == "node" else None,
        datasets=tuple(datasets) if role == "node" else (),
        roles=tuple(roles) if role == "issuer" else (),
        tls_fingerprint=fingerprint(tls_cert),
        ed25519=public_bytes(signing_key) if signing_key else None,
        x25519=public_bytes(x25519_key) if x25519_key else None,
    )
    return NewParty(party, tls_key, tls_cert, signing_key, x25519_key)


def write_kit(folder: Path, new: NewParty, *, federation: str, coordinator: str,
              ca_cert: x509.Certificate, admin_public_key: bytes, roster_bytes: bytes) -> Path:
    """Writes the kit of one party into folder (created 0700); raises OSError."""
    make_private_dir(folder)
    party = new.party
    fields: dict[str, object] = {
        "federation": federation,
        "party_id": party.id,
        "role": party.role,
        "coordinator": coordinator,
    }
    if party.role == "node":
        fields |= {"level": party.level, "region": party.region, "datasets": list(party.datasets)}
    if party.role == "issuer":
        fields["roles"] = list(party.roles)
    fields["admin_public_key"] = base64.b64encode(admin_public_key).decode("ascii")
    comment = (f"fedaudit kit of {party.role} {party.id!r} in federation {federation!r}.\n"
               "Written by `fedaudit certs`. Keep the .key files secret; hand this folder\n"
               "to its party over a secure channel. admin_public_key pins the roster signer.")
    write_file(folder / KIT_FILE, _toml.dumps(fields, comment))
    write_file(folder / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM))
    write_file(folder / "tls.crt", new.tls_cert.public_bytes(serialization.Encoding.PEM))
    save_private_key(new.tls_key, folder / "tls.key")
    write_file(folder / "roster.json", roster_bytes)
    if new.signing_key is not None:
        save_private_key(new.signing_key, folder / "signing.key")
    if new.x25519_key is not None:
        save_private_key(new.x25519_key, folder / "x25519.key")
    return folder
