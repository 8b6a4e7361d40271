"""The signed roster: exact-bytes verification, tampering, and malformed files."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from certs import RosterError, key_id, load_roster, public_bytes, sign_roster
from certs.roster import ROSTER_FORMAT, parse_roster, read_roster_unverified

ADMIN = Ed25519PrivateKey.generate()
ADMIN_PUBLIC = public_bytes(ADMIN)


def _payload(**changes) -> dict:
    payload = {
        "federation": "demo",
        "version": 1,
        "issued_at": "2025-01-01T00:00:00Z",
        "coordinator": "127.0.0.1:7443",
        "parties": [
            {"id": "coordinator", "role": "coordinator", "level": None, "region": None,
             "datasets": [], "roles": [], "tls_fingerprint": "a" * 64,
             "ed25519": None, "x25519": None},
            {"id": "gd", "role": "node", "level": "province", "region": "440000",
             "datasets": ["benefit_payment"], "roles": [], "tls_fingerprint": "b" * 64,
             "ed25519": base64.b64encode(b"\x01" * 32).decode(),
             "x25519": base64.b64encode(b"\x02" * 32).decode()},
        ],
    }
    return payload | changes


def test_round_trip(tmp_path):
    path = tmp_path / "roster.json"
    path.write_bytes(sign_roster(_payload(), ADMIN))
    roster = load_roster(path, ADMIN_PUBLIC)
    assert roster.to_payload() == _payload()
    assert roster.party("gd").ed25519 == b"\x01" * 32
    document = json.loads(path.read_text())
    assert document["format"] == ROSTER_FORMAT and document["signer"] == key_id(ADMIN_PUBLIC)


def test_the_signature_covers_the_exact_payload_bytes():
    document = json.loads(sign_roster(_payload(), ADMIN))
    payload_bytes = base64.b64decode(document["payload"])
    # The same content, serialised differently, no longer verifies: nothing is re-serialised.
    reformatted = json.dumps(json.loads(payload_bytes), indent=1).encode()
    assert json.loads(reformatted) == json.loads(payload_bytes)
    document["payload"] = base64.b64encode(reformatted).decode()
    with pytest.raises(RosterError, match="signature does not verify"):
        parse_roster(json.dumps(document).encode(), ADMIN_PUBLIC)


def test_a_changed_payload_is_refused():
    document = json.loads(sign_roster(_payload(), ADMIN))
    payload = base64.b64decode(document["payload"]).replace(b'"province"', b'"ministry"')
    document["payload"] = base64.b64encode(payload).decode()
    with pytest.raises(RosterError, match="changed after signing"):
        parse_roster(json.dumps(document).encode(), ADMIN_PUBLIC)


def test_another_admin_key_is_refused():
    data = sign_roster(_payload(), ADMIN)
    with pytest.raises(RosterError, match="another federation, or was forged"):
        parse_roster(data, public_bytes(Ed25519PrivateKey.generate()))


def test_a_forger_who_copies_the_signer_field_is_refused():
    forger = Ed25519PrivateKey.generate()
    document = json.loads(sign_roster(_payload(version=9), forger))
    document["signer"] = key_id(ADMIN_PUBLIC)
    with pytest.raises(RosterError, match="signature does not verify"):
        parse_roster(json.dumps(document).encode(), ADMIN_PUBLIC)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param(b"not json", "not valid JSON", id="not json"),
        pytest.param(b"[]", "not a fedaudit roster", id="a list"),
        pytest.param(json.dumps({"format": "other/v1"}).encode(), "not a fedaudit roster",
                     id="other format"),
        pytest.param(json.dumps({"format": ROSTER_FORMAT, "payload": "x", "signature": 1,
                                 "signer": "s"}).encode(), "signature must be a string",
                     id="signature not text"),
        pytest.param(json.dumps({"format": ROSTER_FORMAT, "payload": "@@", "signature": "",
                                 "signer": "s"}).encode(), "payload is not valid base64",
                     id="payload not base64"),
    ],
)
def test_malformed_files(data, match):
    with pytest.raises(RosterError, match=match):
        parse_roster(data, ADMIN_PUBLIC)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        pytest.param({"version": 0}, "version must be an integer from 1", id="version 0"),
        pytest.param({"version": "2"}, "version must be an integer", id="version as text"),
        pytest.param({"federation": ""}, "federation must be", id="no federation"),
        pytest.param({"parties": {}}, "parties must be a list", id="parties not a list"),
    ],
)
def test_sign_roster_refuses_a_malformed_payload(changes, match):
    with pytest.raises(RosterError, match=match):
        sign_roster(_payload(**changes), ADMIN)


@pytest.mark.parametrize(
    ("party_changes", "match"),
    [
        pytest.param({"role": "admin"}, "parties\\[2\\].role must be one of", id="bad role"),
        pytest.param({"level": None}, "a node needs a level", id="node without level"),
        pytest.param({"x25519": None}, "a node must have an Ed25519 key and an X25519",
                     id="node without x25519"),
        pytest.param({"ed25519": "AAAA"}, "raw 32-byte public key", id="short key"),
        pytest.param({"tls_fingerprint": "B" * 64}, "64 lowercase hex", id="bad fingerprint"),
        pytest.param({"id": "coordinator"}, "listed twice: coordinator", id="duplicate id"),
    ],
)
def test_sign_roster_refuses_a_malformed_party(party_changes, match):
    payload = _payload()
    payload["parties"][1] |= party_changes
    with pytest.raises(RosterError, match=match):
        sign_roster(payload, ADMIN)


def test_the_coordinator_may_not_hold_a_signing_key_in_the_roster():
    payload = _payload()
    payload["parties"][0]["ed25519"] = base64.b64encode(b"\x03" * 32).decode()
    with pytest.raises(RosterError, match="a coordinator must have no Ed25519 key"):
        sign_roster(payload, ADMIN)


def test_unverified_reading_reports_the_signer(tmp_path):
    path = tmp_path / "roster.json"
    path.write_bytes(sign_roster(_payload(), ADMIN))
    roster, signer = read_roster_unverified(path)
    assert roster.version == 1 and signer == key_id(ADMIN_PUBLIC)


def test_a_missing_roster_says_where_rosters_come_from(tmp_path):
    with pytest.raises(RosterError, match="no such roster file"):
        load_roster(tmp_path / "roster.json", ADMIN_PUBLIC)


_names = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True)


@settings(max_examples=30, deadline=None)
@given(ids=st.lists(_names, min_size=1, max_size=6, unique=True),
       version=st.integers(min_value=1, max_value=2**40),
       datasets=st.lists(st.text(min_size=1, max_size=8), max_size=3))
def test_property_sign_then_parse_gives_the_same_roster(ids, version, datasets):
    parties = [{"id": i, "role": "node", "level": "registry", "region": "100000",
                "datasets": datasets, "roles": [], "tls_fingerprint": "c" * 64,
                "ed25519": base64.b64encode(bytes([n]) * 32).decode(),
                "x25519": base64.b64encode(bytes([n + 1]) * 32).decode()}
               for n, i in enumerate(ids)]
    payload = _payload(version=version, parties=parties)
    assert parse_roster(sign_roster(payload, ADMIN), ADMIN_PUBLIC).to_payload() == payload
