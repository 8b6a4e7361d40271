"""Wrapping a task key for one node: RFC 9180 HPKE base mode, signed by the sender.

The suite is DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, from the HPKE
implementation `cryptography` ships (47.0 and later). The HPKE `info` binds the task,
the sender and the recipient: `b"fedaudit/task-key/v1|" + task_id|sender|recipient`.
The sender signs `info + enc + ciphertext` with its Ed25519 key, so the coordinator
that relays a wrapped key can neither read it nor substitute one of its own making.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from certs.errors import CertsError, UnwrapError
from certs.signing import sign, verify_signature

__all__ = ["INFO_PREFIX", "KEY_LENGTH", "WrappedKey", "task_key_info", "unwrap_key", "wrap_key"]

INFO_PREFIX = b"fedaudit/task-key/v1|"
#: A task key is 32 random bytes (DESIGN §5).
KEY_LENGTH = 32
#: The length of the encapsulated key of DHKEM(X25519): an X25519 public key.
ENC_LENGTH = 32

_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


@dataclass(frozen=True)
class WrappedKey:
    """A task key sealed for one recipient node and signed by its sender."""

    task_id: str
    sender: str
    recipient: str
    enc: bytes
    ciphertext: bytes
    signature: bytes

    def to_dict(self) -> dict[str, str]:
        """A JSON-friendly dict, the byte fields in base64."""
        return {
            "task_id": self.task_id,
            "sender": self.sender,
            "recipient": self.recipient,
            "enc": base64.b64encode(self.enc).decode("ascii"),
            "ciphertext": base64.b64encode(self.ciphertext).decode("ascii"),
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict) -> WrappedKey:
        """Reads what to_dict wrote; raises UnwrapError naming a missing or malformed field."""
        if not isinstance(data, dict):
            raise UnwrapError("a wrapped key must be a JSON object")
        fields: dict[str, object] = {}
        for name in ("task_id", "sender", "recipient"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise UnwrapError(f"wrapped key: {name} must be a non-empty string")
            fields[name] = data[name]
        for name in ("enc", "ciphertext", "signature"):
            value = data.get(name)
            try:
                fields[name] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError, TypeError) as exc:
                raise UnwrapError(f"wrapped key: {name} must be base64") from exc
        return cls(**fields)  # type: ignore[arg-type]


def task_key_info(task_id: str, sender_id: str, recipient_id: str) -> bytes:
    """The HPKE info that binds a wrapped key to its task, sender and recipient.

    Raises CertsError if a part is empty or contains '|', which would make the
    binding ambiguous.
    """
    parts = (task_id, sender_id, recipient_id)
    for label, part in zip(("task id", "sender id", "recipient id"), parts, strict=True):
        if not isinstance(part, str) or not part or "|" in part:
            raise CertsError(f"the {label} must be a non-empty string without '|' (got {part!r})")
    return INFO_PREFIX + "|".join(parts).encode("utf-8")


def wrap_key(key: bytes, *, task_id: str, sender_id: str, recipient_id: str,
             recipient_public: bytes, sender_signing_key: Ed25519PrivateKey) -> WrappedKey:
    """Seals key for the recipient's raw X25519 public key and signs the result.

    Raises CertsError if key is not 32 bytes, an id is empty or contains '|', the
    recipient key is not a raw 32-byte X25519 key, or the signing key is not Ed25519.
    """
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_LENGTH:
        raise CertsError(f"a task key must be {KEY_LENGTH} bytes")
    if not isinstance(sender_signing_key, Ed25519PrivateKey):
        raise CertsError("wrapping needs the sender's Ed25519 signing key "
                         "(a node kit's signing.key)")
    info = task_key_info(task_id, sender_id, recipient_id)
    try:
        public = X25519PublicKey.from_public_bytes(bytes(recipient_public))
    except (ValueError, TypeError) as exc:
        raise CertsError(f"the public key of {recipient_id!r} is not a raw 32-byte X25519 key; "
                         "check the roster entry") from exc
    sealed = _SUITE.encrypt(bytes(key), public, info=info)
    enc, ciphertext = sealed[:ENC_LENGTH], sealed[ENC_LENGTH:]
    signature = sign(sender_signing_key, info + enc + ciphertext)
    return WrappedKey(task_id, sender_id, recipient_id, enc, ciphertext, signature)


def unwrap_key(wrapped: WrappedKey, *, task_id: str, sender_id: str, recipient_id: str,
               sender_public: bytes, recipient_private: X25519PrivateKey) -> bytes:
    """Checks and opens a wrapped key; returns the 32-byte task key.

    The caller says which task, sender and recipient it expects, and the sender's raw
    Ed25519 public key from the roster. Raises UnwrapError if the wrapped key names
    another task, sender or recipient, is malformed, or does not open with
    recipient_private; raises BadSignature if the sender's signature does not verify
    (for instance after any byte was changed).
    """
    for label, got, expected in (("task", wrapped.task_id, task_id),
                                 ("sender", wrapped.sender, sender_id),
                                 ("recipient", wrapped.recipient, recipient_id)):
        if got != expected:
            raise UnwrapError(f"the wrapped key is for {label} {got!r}, expected {expected!r}")
    try:
        info = task_key_info(task_id, sender_id, recipient_id)
    except CertsError as exc:
        raise UnwrapError(str(exc)) from exc
    if len(wrapped.enc) != ENC_LENGTH:
        raise UnwrapError(f"the wrapped key's enc must be {ENC_LENGTH} bytes")
    verify_signature(sender_public, wrapped.signature, info + wrapped.enc + wrapped.ciphertext)
    if not isinstance(recipient_private, X25519PrivateKey):
        raise UnwrapError("unwrapping needs this node's X25519 private key (its x25519.key)")
    try:
        key = _SUITE.decrypt(wrapped.enc + wrapped.ciphertext, recipient_private, info=info)
    except (InvalidTag, ValueError) as exc:
        raise UnwrapError(f"the key for task {task_id!r} does not open with this node's X25519 "
                          "key: it was wrapped for another key") from exc
    if len(key) != KEY_LENGTH:
        raise UnwrapError(f"the unwrapped task key is {len(key)} bytes, not {KEY_LENGTH}")
    return key
