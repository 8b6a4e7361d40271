"""Receipts round-trip, and any change to the body, the signature or the signer is refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs import BadSignature, load_kit, public_bytes, sign
from node.receipt import RECEIPT_CONTEXT, ReceiptError, make_receipt, verify_receipt

FINISHED = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)


def fields(**changes) -> dict:
    base = {
        "task_id": "7f3c9a0e5b2d4c1f8e6a9b0c1d2e3f40",
        "node_id": "gd",
        "output_digest": hashlib.sha256(b"arrow ipc bytes").hexdigest(),
        "rows": 4,
        "snapshots": {"benefit_payment": "20240501T080000Z-3f2a"},
        "disclosure": {"min_contributors": 10, "suppressed_cells": 1, "rule": "k-anonymity"},
        "finished_at": FINISHED,
    }
    return {**base, **changes}


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_round_trip(key):
    body, signature = make_receipt(**fields(), signing_key=key)
    content = verify_receipt(body, signature, public_bytes(key))
    assert content == {**fields(), "finished_at": "2024-05-01T08:00:00Z"}
    # Compact JSON with sorted keys: exactly what a canonical dump gives.
    assert body == json.dumps(content, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode()
    assert verify_receipt(body, signature, key.public_key()) == content


def test_signature_is_over_the_context_and_body(key):
    body, signature = make_receipt(**fields(), signing_key=key)
    assert signature == sign(key, RECEIPT_CONTEXT + body)
    # The same body signed without the receipt context is not a receipt signature.
    with pytest.raises(BadSignature):
        verify_receipt(body, sign(key, body), public_bytes(key))


def test_non_utc_time_is_written_in_utc(key):
    east8 = dt.timezone(dt.timedelta(hours=8))
    body, signature = make_receipt(**fields(finished_at=FINISHED.astimezone(east8)),
                                   signing_key=key)
    assert verify_receipt(body, signature, public_bytes(key))["finished_at"] == \
        "2024-05-01T08:00:00Z"


def test_every_flipped_body_byte_is_refused(key):
    body, signature = make_receipt(**fields(), signing_key=key)
    public = public_bytes(key)
    for i in range(len(body)):
        changed = bytearray(body)
        changed[i] ^= 0x01
        with pytest.raises(BadSignature):
            verify_receipt(bytes(changed), signature, public)


def test_every_flipped_signature_byte_is_refused(key):
    body, signature = make_receipt(**fields(), signing_key=key)
    public = public_bytes(key)
    for i in range(len(signature)):
        for bit in (0x01, 0x80):
            changed = bytearray(signature)
            changed[i] ^= bit
            with pytest.raises(BadSignature):
                verify_receipt(body, bytes(changed), public)


def test_truncated_or_extended_receipts_are_refused(key):
    body, signature = make_receipt(**fields(), signing_key=key)
    public = public_bytes(key)
    for bad_body, bad_signature in [(body[:-1], signature), (body + b" ", signature),
                                    (body, signature[:-1]), (body, signature + b"\0"),
                                    (b"", signature), (body, b"")]:
        with pytest.raises(BadSignature):
            verify_receipt(bad_body, bad_signature, public)


def test_receipt_of_another_node_is_refused(federation):
    gd, gx = load_kit(federation / "gd"), load_kit(federation / "gx")
    roster = gd.roster()
    body, signature = make_receipt(**fields(node_id="gd"), signing_key=gd.signing_key())
    assert verify_receipt(body, signature, roster.party("gd").ed25519)["node_id"] == "gd"
    with pytest.raises(BadSignature):
        verify_receipt(body, signature, roster.party("gx").ed25519)
    # gx signing a receipt that claims to be gd's is caught by gd's key.
    forged, forged_signature = make_receipt(**fields(node_id="gd"), signing_key=gx.signing_key())
    with pytest.raises(BadSignature):
        verify_receipt(forged, forged_signature, roster.party("gd").ed25519)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"output_digest": "abc"}, "output_digest"),
        ({"output_digest": "A" * 64}, "output_digest"),
        ({"rows": -1}, "rows"),
        ({"rows": True}, "rows"),
        ({"task_id": ""}, "task_id"),
        ({"snapshots": {"benefit_payment": 3}}, "snapshots"),
        ({"finished_at": dt.datetime(2024, 5, 1, 8, 0)}, "time zone"),
        ({"finished_at": "yesterday"}, "finished_at"),
        ({"disclosure": {"x": float("nan")}}, "JSON"),
        ({"disclosure": {"x": object()}}, "JSON"),
    ],
)
def test_malformed_receipt_fields_are_refused(key, change, match):
    with pytest.raises(ReceiptError, match=match):
        make_receipt(**fields(**change), signing_key=key)


@pytest.mark.parametrize(
    "body",
    [b"[]", b"not json", b'{"task_id":"x"}', "\u00e9".encode("latin-1"),
     json.dumps({**fields(finished_at="2024-05-01T08:00:00Z"), "extra": 1}).encode()],
)
def test_correctly_signed_non_receipt_is_refused(key, body):
    with pytest.raises(ReceiptError):
        verify_receipt(body, sign(key, RECEIPT_CONTEXT + body), public_bytes(key))
