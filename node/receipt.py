"""Signed result receipts: what a node states about one output it released, under its Ed25519 key.

A receipt body is compact JSON with sorted keys (the exact bytes are signed and must be
kept as received; never re-serialize before verifying)::

    {"disclosure":{...},"finished_at":"2024-05-01T08:00:00Z","node_id":"gd",
     "output_digest":"<sha256 hex of the Arrow IPC stream>","rows":4,
     "snapshots":{"benefit_payment":"<snapshot id>"},"task_id":"..."}

The signature is Ed25519 over ``RECEIPT_CONTEXT + body``, so a receipt signature can never
be mistaken for the signature of a task, a roster or anything else the same key signs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs import public_bytes, sign, verify_signature
from node.errors import NodeError

__all__ = ["RECEIPT_CONTEXT", "ReceiptError", "make_receipt", "verify_receipt"]

RECEIPT_CONTEXT = b"fedaudit-receipt/v1\n"
_FIELDS = ("disclosure", "finished_at", "node_id", "output_digest", "rows", "snapshots",
           "task_id")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class ReceiptError(NodeError):
    """A receipt that cannot be made or read: a missing or mistyped field, or a body that is
    not a receipt. (A signature that does not match raises certs.BadSignature.)"""


def make_receipt(
    *,
    task_id: str,
    node_id: str,
    output_digest: str,
    rows: int,
    snapshots: Mapping[str, str],
    disclosure: Mapping[str, object],
    finished_at: dt.datetime | str,
    signing_key: Ed25519PrivateKey,
) -> tuple[bytes, bytes]:
    """Returns (body, signature) of a receipt signed by the node's `signing_key`.

    `snapshots` maps each dataset to the id of the snapshot the task ran on; `disclosure`
    is the disclosure engine's summary (JSON values only); `finished_at` is an aware
    datetime (written in UTC) or an ISO 8601 string. Raises ReceiptError for a field of
    the wrong type or shape, and certs.CertsError if `signing_key` is not an Ed25519 key.
    """
    if isinstance(finished_at, dt.datetime):
        if finished_at.tzinfo is None:
            raise ReceiptError("finished_at must carry a time zone, "
                               "e.g. datetime.now(timezone.utc)")
        finished_at = finished_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    content = {
        "disclosure": dict(disclosure),
        "finished_at": finished_at,
        "node_id": node_id,
        "output_digest": output_digest,
        "rows": rows,
        "snapshots": dict(snapshots),
        "task_id": task_id,
    }
    _check(content)
    try:
        body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ReceiptError(f"the disclosure summary must hold JSON values only: {exc}") from exc
    return body, sign(signing_key, RECEIPT_CONTEXT + body)


def verify_receipt(
    body: bytes, signature: bytes, public_key: bytes | Ed25519PublicKey
) -> dict[str, object]:
    """Checks a receipt against the node's public key (raw 32 bytes, e.g. from the roster).

    Returns the parsed body. Raises certs.BadSignature when the signature does not match
    the key and the exact body bytes, and ReceiptError when a correctly signed body is
    not a well-formed receipt.
    """
    if not isinstance(public_key, bytes | bytearray):
        public_key = public_bytes(public_key)
    if not isinstance(body, bytes | bytearray):
        raise ReceiptError("a receipt body is bytes, exactly as the node sent them")
    verify_signature(bytes(public_key), signature, RECEIPT_CONTEXT + bytes(body))
    try:
        content = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReceiptError(f"the signed receipt body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(content, dict):
        raise ReceiptError("the signed receipt body is not a JSON object")
    _check(content)
    return content


def _check(content: Mapping[str, object]) -> None:
    """Raises ReceiptError naming the first field that is missing, unknown or mistyped."""
    missing = [key for key in _FIELDS if key not in content]
    unknown = sorted(set(content) - set(_FIELDS))
    if missing or unknown:
        raise ReceiptError(f"a receipt has exactly the fields {', '.join(_FIELDS)}; "
                           f"missing: {missing or 'none'}, unknown: {unknown or 'none'}")
    for key in ("task_id", "node_id", "finished_at"):
        if not isinstance(content[key], str) or not content[key]:
            raise ReceiptError(f"receipt field {key} must be a non-empty string")
    if not isinstance(content["output_digest"], str) or not _DIGEST.match(content["output_digest"]):
        raise ReceiptError("receipt field output_digest must be 64 lowercase hex digits (SHA-256)")
    rows = content["rows"]
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        raise ReceiptError("receipt field rows must be a non-negative integer")
    snapshots = content["snapshots"]
    if not isinstance(snapshots, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in snapshots.items()
    ):
        raise ReceiptError("receipt field snapshots must map dataset names to snapshot ids")
    if not isinstance(content["disclosure"], dict):
        raise ReceiptError("receipt field disclosure must be a JSON object")
    try:
        dt.datetime.fromisoformat(content["finished_at"])
    except ValueError as exc:
        raise ReceiptError("receipt field finished_at must be an ISO 8601 time, "
                           "e.g. 2024-05-01T08:00:00Z") from exc
