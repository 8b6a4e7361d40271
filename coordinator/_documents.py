"""Signed sharing documents: exact payload bytes, issuers' signatures, files, verification.

The format is the one of ``coordinator.sharing`` (grants and classifications): JSON with
``format``, a readable view under the document's kind, ``payload_b64`` (what is signed)
and ``signatures``. An issuer signs ``format + "\\n" + payload bytes``. This module knows
nothing of what a payload says; ``coordinator.sharing`` does.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from coordinator.errors import CoordinatorError

__all__ = [
    "DocumentSignature",
    "SharingError",
    "SignedDocument",
    "load_document",
    "new_document",
    "parse_document",
    "save_document",
    "verify_signers",
]

#: Document kinds and their format names (also their signing context line).
KINDS = {"grant": "fedaudit-grant/v1", "classification": "fedaudit-classification/v1"}


class SharingError(CoordinatorError):
    """A sharing document or read that cannot be accepted; ``code`` is stable."""


@dataclass(frozen=True)
class DocumentSignature:
    """One issuer's signature over a document's context and payload bytes."""

    signer_id: str
    key_id: str
    signature: bytes


@dataclass(frozen=True)
class SignedDocument:
    """A grant or classification: exact payload bytes, signatures, readable view."""

    kind: str
    payload_bytes: bytes
    signatures: tuple[DocumentSignature, ...] = ()
    view: Mapping | None = field(default=None, compare=False)

    @property
    def format(self) -> str:
        """The document's format name, e.g. ``fedaudit-grant/v1``."""
        return KINDS[self.kind]

    def signing_message(self) -> bytes:
        """The bytes an issuer signs: the format as context line, then the payload."""
        return self.format.encode() + b"\n" + self.payload_bytes

    def payload(self) -> dict:
        """The parsed payload; raises SharingError (INVALID_REQUEST) if it is not JSON."""
        try:
            payload = json.loads(self.payload_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SharingError(f"the signed {self.kind} payload is not JSON",
                               "INVALID_REQUEST") from exc
        if not isinstance(payload, dict):
            raise SharingError(f"the signed {self.kind} payload is not an object",
                               "INVALID_REQUEST")
        return payload

    def check_view(self) -> None:
        """Raises SharingError (BAD_SIGNATURE) when the readable view differs from the bytes."""
        if self.view is not None and self.view != self.payload():
            raise SharingError(f"the readable {self.kind} differs from its signed bytes: the "
                               "file was changed after it was created", "BAD_SIGNATURE")

    def with_signature(self, signer_id: str, private_key) -> SignedDocument:
        """The document with one more signature by ``private_key`` (an Ed25519 key).

        Raises SharingError if the view was edited or this key already signed.
        """
        from certs import key_id, public_bytes, sign

        self.check_view()
        kid = key_id(public_bytes(private_key))
        if any(s.key_id == kid for s in self.signatures):
            raise SharingError(f"this key ({kid}) has already signed the {self.kind}; a "
                               "co-signature needs another issuer's kit", "INVALID_REQUEST")
        signature = DocumentSignature(signer_id, kid, sign(private_key, self.signing_message()))
        return SignedDocument(self.kind, self.payload_bytes, (*self.signatures, signature))

    def to_json(self) -> str:
        """The document as the text of its file."""
        return json.dumps({
            "format": self.format,
            self.kind: self.payload(),
            "payload_b64": base64.b64encode(self.payload_bytes).decode(),
            "signatures": [{"signer_id": s.signer_id, "key_id": s.key_id,
                            "signature": base64.b64encode(s.signature).decode()}
                           for s in self.signatures],
        }, indent=2, ensure_ascii=False) + "\n"


def new_document(kind: str, payload: Mapping) -> SignedDocument:
    data = json.dumps(dict(payload), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return SignedDocument(kind, data.encode("utf-8"))


def parse_document(data: str | bytes, kind: str, source: str = "document") -> SignedDocument:
    """Reads a document's text; raises SharingError (INVALID_REQUEST) if it is not one.

    The readable view is checked against the signed bytes (BAD_SIGNATURE if it differs).
    """
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SharingError(f"{source}: not a {kind} file (not JSON)", "INVALID_REQUEST") from exc
    if not isinstance(parsed, dict) or parsed.get("format") != KINDS[kind]:
        raise SharingError(f"{source}: not a {kind} file (format is not {KINDS[kind]})",
                           "INVALID_REQUEST")
    try:
        document = SignedDocument(
            kind,
            base64.b64decode(parsed["payload_b64"], validate=True),
            tuple(DocumentSignature(str(s["signer_id"]), str(s["key_id"]),
                                    base64.b64decode(s["signature"], validate=True))
                  for s in parsed.get("signatures", [])),
            view=parsed.get(kind),
        )
    except (KeyError, TypeError, binascii.Error) as exc:
        raise SharingError(f"{source}: damaged {kind} file ({type(exc).__name__}: {exc})",
                           "INVALID_REQUEST") from exc
    document.check_view()
    return document


def load_document(path: str | os.PathLike, kind: str) -> SignedDocument:
    """Reads a document file; raises SharingError when it is missing or not one."""
    try:
        return parse_document(Path(path).read_bytes(), kind, str(path))
    except FileNotFoundError as exc:
        raise SharingError(f"{path}: no such {kind} file", "NOT_FOUND") from exc


def save_document(document: SignedDocument, path: str | os.PathLike) -> None:
    """Writes the document file atomically (a crash leaves the old file or the new one)."""
    from certs import write_file

    write_file(path, document.to_json())


def verify_signers(document: SignedDocument, roster) -> dict:
    """Checks every signature against the roster's issuer keys; returns id -> Party.

    Raises SharingError: BAD_SIGNATURE if the document is unsigned or a signature does
    not match its bytes, UNKNOWN_ISSUER if a key is not an issuer's of this federation.
    """
    from certs import BadSignature, key_id, verify_signature

    if not document.signatures:
        raise SharingError(f"the {document.kind} is not signed; sign it with the owner's kit",
                           "BAD_SIGNATURE")
    keys = {key_id(p.ed25519): p for p in roster.issuers() if p.ed25519}
    message = document.signing_message()
    signers = {}
    for sig in document.signatures:
        issuer = keys.get(sig.key_id)
        if issuer is None:
            raise SharingError(f"key {sig.key_id} that signed the {document.kind} is not an "
                               "issuer of this federation", "UNKNOWN_ISSUER")
        try:
            verify_signature(issuer.ed25519, sig.signature, message)
        except BadSignature as exc:
            raise SharingError(f"the signature of {issuer.id} does not match the "
                               f"{document.kind}: it was forged or changed after signing",
                               "BAD_SIGNATURE") from exc
        signers[issuer.id] = issuer
    return signers
