"""Ed25519 signatures and the private-key files of the federation (PKCS8 PEM, unencrypted)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from certs._files import SECRET_MODE, write_file
from certs.errors import BadSignature, CertsError

__all__ = [
    "key_id",
    "load_private_key",
    "load_public_key",
    "public_bytes",
    "save_private_key",
    "save_public_key",
    "sign",
    "verify_signature",
]

#: Length of a raw Ed25519 or X25519 public key, and of an Ed25519 signature.
RAW_KEY_LENGTH = 32
SIGNATURE_LENGTH = 64


def sign(private_key: Ed25519PrivateKey, message: bytes) -> bytes:
    """Returns the 64-byte Ed25519 signature of message (RFC 8032, deterministic).

    Raises CertsError if private_key is not an Ed25519 private key.
    """
    if not isinstance(private_key, Ed25519PrivateKey):
        raise CertsError(
            f"signing needs an Ed25519 private key, got {type(private_key).__name__}; "
            "use the signing.key of an issuer or node kit"
        )
    return private_key.sign(message)


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Checks an Ed25519 signature over message by the raw 32-byte public_key.

    Returns nothing on success. Raises BadSignature when the signature does not match,
    and also when the key or the signature is malformed (wrong length, not bytes, not a
    curve point), so a caller has exactly one failure to handle.
    """
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != RAW_KEY_LENGTH:
        raise BadSignature("the public key is not a raw 32-byte Ed25519 key")
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_LENGTH:
        raise BadSignature("the signature is not 64 bytes long")
    if not isinstance(message, bytes | bytearray):
        raise BadSignature("the signed message must be bytes")
    try:
        Ed25519PublicKey.from_public_bytes(bytes(public_key)).verify(bytes(signature),
                                                                     bytes(message))
    except (InvalidSignature, ValueError) as exc:
        raise BadSignature("the signature does not match the key and the signed bytes") from exc


def key_id(public_key: bytes) -> str:
    """The short name of a raw public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(bytes(public_key)).hexdigest()[:16]


def public_bytes(key) -> bytes:
    """The raw 32-byte public key of an Ed25519 or X25519 key (private or public).

    Raises CertsError for any other kind of key.
    """
    if isinstance(key, Ed25519PrivateKey | X25519PrivateKey):
        key = key.public_key()
    if isinstance(key, Ed25519PublicKey | X25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise CertsError(f"expected an Ed25519 or X25519 key, got {type(key).__name__}")


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey | X25519PrivateKey:
    """Reads an unencrypted PKCS8 PEM Ed25519 or X25519 private key from path.

    Raises CertsError if the file is missing, is not an unencrypted PKCS8 PEM key, or
    holds another kind of key (for instance a TLS key).
    """
    path = Path(path)
    key = _load_pem_private_key(path)
    if not isinstance(key, Ed25519PrivateKey | X25519PrivateKey):
        raise CertsError(
            f"{path} holds a {_key_kind(key)} key, not an Ed25519 or X25519 key; "
            "give the signing.key or x25519.key of a kit"
        )
    return key


def save_private_key(key, path: str | os.PathLike) -> Path:
    """Writes key as unencrypted PKCS8 PEM to path, atomically and with mode 0600.

    Accepts Ed25519, X25519 and elliptic-curve (TLS) private keys. Raises CertsError
    for other objects and OSError if the folder is not writable.
    """
    if not isinstance(key, Ed25519PrivateKey | X25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise CertsError(f"cannot save a {type(key).__name__} as a private key")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return write_file(path, pem, SECRET_MODE)


def save_public_key(key, path: str | os.PathLike) -> Path:
    """Writes the public half of an Ed25519 or X25519 key as PEM (SubjectPublicKeyInfo).

    Raises CertsError for other keys and OSError if the folder is not writable.
    """
    if isinstance(key, Ed25519PrivateKey | X25519PrivateKey):
        key = key.public_key()
    if not isinstance(key, Ed25519PublicKey | X25519PublicKey):
        raise CertsError(f"cannot save a {type(key).__name__} as a public key")
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return write_file(path, pem)


def load_public_key(path: str | os.PathLike) -> bytes:
    """Reads a raw 32-byte Ed25519 public key from a PEM file or a one-line base64 file.

    Raises CertsError if the file is missing or holds anything else.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CertsError(f"{path}: no such key file") from exc
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise CertsError(f"{path} is not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise CertsError(f"{path} holds a {_key_kind(key)} public key, not an Ed25519 key")
        return public_bytes(key)
    try:
        raw = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CertsError(f"{path} is neither a PEM public key nor base64") from exc
    if len(raw) != RAW_KEY_LENGTH:
        raise CertsError(f"{path} does not hold a 32-byte Ed25519 public key")
    return raw


def _load_pem_private_key(path: Path):
    """Reads any unencrypted PEM private key; raises CertsError naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CertsError(f"{path}: no such key file") from exc
    except IsADirectoryError as exc:
        raise CertsError(f"{path} is a folder, not a key file") from exc
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise CertsError(f"{path} is encrypted; fedaudit keys are stored unencrypted "
                         "with mode 0600") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertsError(f"{path} is not a PEM private key") from exc


def _key_kind(key) -> str:
    """A short human name for the type of a key object."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name}"
    return type(key).__name__.replace("PrivateKey", "").replace("PublicKey", "")
