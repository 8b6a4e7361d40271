"""The federation CA: ECDSA P-256 TLS keys, a self-signed CA, and party certificates.

A party certificate carries the party's identity in its subject: CN=<party id>,
OU=<role>, O=<federation name>. gRPC servicers read it back with `peer_identity`
from the certificate TLS has already verified against the federation CA.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.errors import CertsError

__all__ = [
    "ROLES",
    "address_host",
    "create_ca",
    "fingerprint",
    "issue_certificate",
    "load_certificate",
    "new_tls_key",
    "peer_identity",
]

#: The roles a certificate can carry, in the OU of its subject.
ROLES = ("node", "issuer", "office", "coordinator")

#: The CA outlives many party certificates; parties are re-issued, the CA rarely.
CA_VALID_DAYS = 3650
#: 825 days is the longest lifetime common TLS clients accept for a leaf certificate.
PARTY_VALID_DAYS = 825
#: Certificates start a little in the past so that small clock skew does not reject them.
BACKDATE = dt.timedelta(minutes=5)


def new_tls_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 key: the TLS key type gRPC (BoringSSL) handles everywhere."""
    return ec.generate_private_key(ec.SECP256R1())


def create_ca(federation: str, key: ec.EllipticCurvePrivateKey, *,
              valid_days: int = CA_VALID_DAYS) -> x509.Certificate:
    """A self-signed CA certificate for the federation, signed by key.

    The CA may sign party certificates only (path length 0). Raises CertsError if the
    federation name cannot go into a certificate.
    """
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, _attr(f"{federation} federation CA", "CA name")),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _attr(federation, "federation name")),
    ])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def issue_certificate(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, *,
                      party_id: str, role: str, federation: str,
                      public_key: ec.EllipticCurvePublicKey, hosts: tuple[str, ...] = (),
                      valid_days: int = PARTY_VALID_DAYS) -> x509.Certificate:
    """A TLS certificate for one party, signed by the federation CA.

    Subject CN=party_id, OU=role, O=federation; SANs DNS:localhost and IP:127.0.0.1
    plus each of hosts (an IP address becomes an IP SAN, anything else a DNS SAN);
    usable as TLS server and client. Raises CertsError on an unknown role or a value
    that cannot go into a certificate.
    """
    if role not in ROLES:
        raise CertsError(f"role must be one of {', '.join(ROLES)} (got {role!r})")
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, _attr(party_id, "party id")),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _attr(federation, "federation name")),
    ])
    names: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for host in hosts:
        entry = _general_name(host)
        if entry not in names:
            names.append(entry)
    now = dt.datetime.now(dt.UTC)
    ca_public = ca_cert.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + dt.timedelta(days=valid_days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                   ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def load_certificate(cert: bytes | str | x509.Certificate) -> x509.Certificate:
    """Parses a PEM or DER certificate (bytes or str); raises CertsError if it is neither."""
    if isinstance(cert, x509.Certificate):
        return cert
    if isinstance(cert, str):
        cert = cert.encode("ascii", errors="replace")
    if not isinstance(cert, bytes | bytearray):
        raise CertsError(f"expected certificate bytes, got {type(cert).__name__}")
    data = bytes(cert)
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CertsError("not a PEM or DER X.509 certificate") from exc


def peer_identity(cert: bytes | str | x509.Certificate) -> tuple[str, str]:
    """Returns (party id, role) from a party certificate, PEM or DER.

    This reads the subject only: call it on a certificate TLS has already verified
    against the federation CA, such as `context.auth_context()['x509_pem_cert'][0]`.
    Raises CertsError if the certificate is malformed or carries no fedaudit identity.
    """
    certificate = load_certificate(cert)
    party_id = _single(certificate.subject, NameOID.COMMON_NAME, "CN")
    role = _single(certificate.subject, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU")
    if role not in ROLES:
        raise CertsError(f"certificate of {party_id!r} has role {role!r}; expected one of "
                         f"{', '.join(ROLES)}; re-issue it with `fedaudit certs issue`")
    return party_id, role


def fingerprint(cert: bytes | str | x509.Certificate) -> str:
    """The SHA-256 of the certificate's DER encoding, as lowercase hex.

    Raises CertsError if cert is not a PEM or DER certificate.
    """
    der = load_certificate(cert).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def address_host(address: str) -> str:
    """The host part of a `host:port` address (`[::1]:7443` gives `::1`).

    Raises CertsError if the address has no port or an invalid one.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CertsError(f"{address!r} is not HOST:PORT (for example 127.0.0.1:7443)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise CertsError(f"{address!r}: write an IPv6 address in brackets, as [::1]:7443")
    return host


def _general_name(host: str) -> x509.GeneralName:
    """An IP SAN for an IP address, a DNS SAN for anything else."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _attr(value: str, what: str) -> str:
    """Checks a subject attribute value; X.509 allows 1 to 64 characters."""
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise CertsError(f"the {what} must be 1 to 64 characters (got {value!r})")
    return value


def _single(name: x509.Name, oid: x509.ObjectIdentifier, label: str) -> str:
    """The one value of attribute oid in name; raises CertsError if absent or repeated."""
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str) or not values[0].value:
        raise CertsError(f"certificate subject {name.rfc4514_string()!r} has no single {label}; "
                         "it was not issued by `fedaudit certs`")
    return values[0].value
