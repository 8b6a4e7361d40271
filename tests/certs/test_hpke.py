"""Task-key wrapping: X25519 and HKDF vectors, RFC 9180 conformance, and every refusal."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from certs import (
    BadSignature,
    CertsError,
    UnwrapError,
    WrappedKey,
    load_private_key,
    public_bytes,
    save_private_key,
    sign,
    unwrap_key,
    wrap_key,
)
from certs.hpke import task_key_info
from tests.certs import rfc9180_reference as ref
from tests.certs.vectors import (
    RFC5869_HKDF_SHA256,
    RFC7748_DH,
    RFC7748_X25519,
    RFC9180_A1,
    HkdfVector,
    X25519Vector,
)

# -- the primitives beneath ----------------------------------------------------------------


@pytest.mark.parametrize("vector", RFC7748_X25519, ids=lambda v: v.name)
def test_rfc7748_x25519_function(vector: X25519Vector):
    scalar = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector.scalar))
    u = X25519PublicKey.from_public_bytes(bytes.fromhex(vector.u_coordinate))
    assert scalar.exchange(u).hex() == vector.output


def test_rfc7748_diffie_hellman_through_saved_key_files(tmp_path):
    v = RFC7748_DH
    alice = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["alice_private"]))
    bob = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["bob_private"]))
    alice = load_private_key(save_private_key(alice, tmp_path / "alice.key"))
    bob = load_private_key(save_private_key(bob, tmp_path / "bob.key"))
    assert public_bytes(alice).hex() == v["alice_public"]
    assert public_bytes(bob).hex() == v["bob_public"]
    shared_a = alice.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(v["bob_public"])))
    shared_b = bob.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(v["alice_public"])))
    assert shared_a.hex() == shared_b.hex() == v["shared"]


@pytest.mark.parametrize("vector", RFC5869_HKDF_SHA256, ids=lambda v: v.name)
def test_rfc5869_hkdf_reference_helpers(vector: HkdfVector):
    prk = ref.hkdf_extract(bytes.fromhex(vector.salt), bytes.fromhex(vector.ikm))
    assert prk.hex() == vector.prk
    assert ref.hkdf_expand(prk, bytes.fromhex(vector.info), vector.length).hex() == vector.okm


def test_rfc9180_a1_reference_reproduces_the_published_values():
    v = RFC9180_A1
    ephemeral = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["skEm"]))
    recipient = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["skRm"]))
    assert public_bytes(recipient).hex() == v["pkRm"]
    shared, enc = ref.encap(bytes.fromhex(v["pkRm"]), ephemeral)
    assert (shared.hex(), enc.hex()) == (v["shared_secret"], v["enc"])
    assert ref.decap(enc, recipient).hex() == v["shared_secret"]
    key, nonce = ref.key_schedule_base(shared, bytes.fromhex(v["info"]), ref.AES_128_GCM)
    assert (key.hex(), nonce.hex()) == (v["key"], v["base_nonce"])
    enc, ciphertext = ref.seal_base(bytes.fromhex(v["pkRm"]), bytes.fromhex(v["info"]),
                                    bytes.fromhex(v["seq0_aad"]), bytes.fromhex(v["seq0_pt"]),
                                    ref.AES_128_GCM, ephemeral)
    assert ciphertext.hex() == v["seq0_ct"]


# -- wrap and unwrap -------------------------------------------------------------------------


@dataclasses.dataclass
class Parties:
    sender: Ed25519PrivateKey
    recipient: X25519PrivateKey
    other_recipient: X25519PrivateKey
    other_sender: Ed25519PrivateKey

    def wrap(self, key: bytes, **overrides) -> WrappedKey:
        args = {"task_id": "t-1", "sender_id": "gd", "recipient_id": "deaths",
                "recipient_public": public_bytes(self.recipient),
                "sender_signing_key": self.sender} | overrides
        return wrap_key(key, **args)

    def unwrap(self, wrapped: WrappedKey, **overrides) -> bytes:
        args = {"task_id": "t-1", "sender_id": "gd", "recipient_id": "deaths",
                "sender_public": public_bytes(self.sender),
                "recipient_private": self.recipient} | overrides
        return unwrap_key(wrapped, **args)


@pytest.fixture
def parties() -> Parties:
    return Parties(Ed25519PrivateKey.generate(), X25519PrivateKey.generate(),
                   X25519PrivateKey.generate(), Ed25519PrivateKey.generate())


def test_round_trip(parties: Parties):
    key = os.urandom(32)
    wrapped = parties.wrap(key)
    assert (wrapped.task_id, wrapped.sender, wrapped.recipient) == ("t-1", "gd", "deaths")
    assert key not in wrapped.ciphertext
    assert parties.unwrap(wrapped) == key


def test_each_wrap_is_fresh(parties: Parties):
    key = os.urandom(32)
    first, second = parties.wrap(key), parties.wrap(key)
    assert first.enc != second.enc and first.ciphertext != second.ciphertext


def test_wrapped_key_is_rfc9180_base_mode_aes_256_gcm(parties: Parties):
    key = os.urandom(32)
    wrapped = parties.wrap(key)
    info = task_key_info("t-1", "gd", "deaths")
    assert info == b"fedaudit/task-key/v1|t-1|gd|deaths"
    opened = ref.open_base(wrapped.enc, parties.recipient, info, b"", wrapped.ciphertext,
                           ref.AES_256_GCM)
    assert opened == key


def test_unwrap_opens_what_another_rfc9180_implementation_sealed(parties: Parties):
    key = os.urandom(32)
    info = task_key_info("t-1", "gd", "deaths")
    enc, ciphertext = ref.seal_base(public_bytes(parties.recipient), info, b"", key,
                                    ref.AES_256_GCM, X25519PrivateKey.generate())
    signature = sign(parties.sender, info + enc + ciphertext)
    wrapped = WrappedKey("t-1", "gd", "deaths", enc, ciphertext, signature)
    assert parties.unwrap(wrapped) == key


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        pytest.param({"task_id": "t-2"}, UnwrapError, "task 't-1'", id="other task"),
        pytest.param({"sender_id": "hq"}, UnwrapError, "sender 'gd'", id="other sender"),
        pytest.param({"recipient_id": "gx"}, UnwrapError, "recipient 'deaths'",
                     id="other recipient"),
    ],
)
def test_unwrap_refuses_another_context(parties: Parties, overrides, error, match):
    with pytest.raises(error, match=match):
        parties.unwrap(parties.wrap(os.urandom(32)), **overrides)


def test_unwrap_refuses_another_recipient_key(parties: Parties):
    with pytest.raises(UnwrapError, match="wrapped for another key"):
        parties.unwrap(parties.wrap(os.urandom(32)), recipient_private=parties.other_recipient)


def test_unwrap_refuses_another_sender_key(parties: Parties):
    with pytest.raises(BadSignature):
        parties.unwrap(parties.wrap(os.urandom(32)),
                       sender_public=public_bytes(parties.other_sender))


def test_relabelled_wrapped_key_is_refused(parties: Parties):
    """A relay that rewrites the task id in the envelope is caught by the signature."""
    wrapped = dataclasses.replace(parties.wrap(os.urandom(32)), task_id="t-2")
    with pytest.raises(BadSignature):
        parties.unwrap(wrapped, task_id="t-2")


def test_resealed_by_a_relay_is_refused(parties: Parties):
    """A relay can seal its own key for the recipient, but cannot sign as the sender."""
    wrapped = parties.wrap(os.urandom(32))
    forged = parties.wrap(os.urandom(32), sender_signing_key=parties.other_sender)
    mixed = dataclasses.replace(forged, signature=wrapped.signature)
    with pytest.raises(BadSignature):
        parties.unwrap(mixed)


@pytest.mark.parametrize("field", ["enc", "ciphertext", "signature"])
def test_every_tampered_byte_is_refused(parties: Parties, field: str):
    wrapped = parties.wrap(os.urandom(32))
    length = len(getattr(wrapped, field))
    for index in range(length):
        data = bytearray(getattr(wrapped, field))
        data[index] ^= 0x01
        with pytest.raises((BadSignature, UnwrapError)):
            parties.unwrap(dataclasses.replace(wrapped, **{field: bytes(data)}))


def test_truncated_enc_is_refused(parties: Parties):
    wrapped = parties.wrap(os.urandom(32))
    with pytest.raises(UnwrapError, match="32 bytes"):
        parties.unwrap(dataclasses.replace(wrapped, enc=wrapped.enc[:31]))


@pytest.mark.parametrize(
    ("key", "overrides", "match"),
    [
        pytest.param(b"short", {}, "32 bytes", id="short key"),
        pytest.param(os.urandom(32), {"task_id": "a|b"}, "without '\\|'", id="pipe in task"),
        pytest.param(os.urandom(32), {"sender_id": ""}, "sender id", id="empty sender"),
        pytest.param(os.urandom(32), {"recipient_public": b"\x00" * 5}, "X25519",
                     id="bad recipient key"),
    ],
)
def test_wrap_refuses_bad_input(parties: Parties, key, overrides, match):
    with pytest.raises(CertsError, match=match):
        parties.wrap(key, **overrides)


def test_wrap_needs_an_ed25519_signing_key(parties: Parties):
    with pytest.raises(CertsError, match="Ed25519"):
        parties.wrap(os.urandom(32), sender_signing_key=parties.recipient)


def test_from_dict_names_the_bad_field():
    good = {"task_id": "t", "sender": "a", "recipient": "b", "enc": "AA==",
            "ciphertext": "AA==", "signature": "AA=="}
    assert WrappedKey.from_dict(good).enc == b"\x00"
    with pytest.raises(UnwrapError, match="sender"):
        WrappedKey.from_dict(good | {"sender": ""})
    with pytest.raises(UnwrapError, match="ciphertext must be base64"):
        WrappedKey.from_dict(good | {"ciphertext": "not base64!"})
    with pytest.raises(UnwrapError, match="signature must be base64"):
        WrappedKey.from_dict({k: v for k, v in good.items() if k != "signature"})


_ids = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)),
               min_size=1, max_size=20)


@settings(max_examples=25, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), task_id=_ids, sender=_ids, recipient=_ids)
def test_property_wrap_json_unwrap_round_trip(key, task_id, sender, recipient):
    sender_key, recipient_key = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    wrapped = wrap_key(key, task_id=task_id, sender_id=sender, recipient_id=recipient,
                       recipient_public=public_bytes(recipient_key),
                       sender_signing_key=sender_key)
    travelled = WrappedKey.from_dict(json.loads(json.dumps(wrapped.to_dict())))
    assert travelled == wrapped
    assert unwrap_key(travelled, task_id=task_id, sender_id=sender, recipient_id=recipient,
                      sender_public=public_bytes(sender_key),
                      recipient_private=recipient_key) == key
