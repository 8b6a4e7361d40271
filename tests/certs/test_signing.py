"""Ed25519 signing against RFC 8032, and the private-key files of the federation."""

from __future__ import annotations

import hashlib
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from certs import (
    BadSignature,
    CertsError,
    key_id,
    load_private_key,
    load_public_key,
    public_bytes,
    save_private_key,
    sign,
    verify_signature,
)
from certs.signing import save_public_key
from tests.certs.vectors import RFC8032_ED25519, Ed25519Vector


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@pytest.mark.parametrize("vector", RFC8032_ED25519, ids=lambda v: v.name)
def test_rfc8032_sign_gives_the_published_signature(vector: Ed25519Vector):
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector.secret_key))
    assert public_bytes(key).hex() == vector.public_key
    assert sign(key, bytes.fromhex(vector.message)).hex() == vector.signature


@pytest.mark.parametrize("vector", RFC8032_ED25519, ids=lambda v: v.name)
def test_rfc8032_verify_accepts_the_published_signature(vector: Ed25519Vector):
    verify_signature(bytes.fromhex(vector.public_key), bytes.fromhex(vector.signature),
                     bytes.fromhex(vector.message))


@pytest.mark.parametrize("vector", RFC8032_ED25519, ids=lambda v: v.name)
@pytest.mark.parametrize("part", ["signature", "message", "public_key"])
def test_rfc8032_a_flipped_bit_is_refused(vector: Ed25519Vector, part: str):
    public, signature = bytes.fromhex(vector.public_key), bytes.fromhex(vector.signature)
    message = bytes.fromhex(vector.message)
    verify_signature(public, signature, message)  # Unchanged, it verifies.
    if part == "signature":
        signature = _flip(signature, 5)
    elif part == "message":
        # TEST 1 signs the empty message, which has no bit to flip: add a byte instead.
        message = _flip(message, 0) if message else b"\x00"
    else:
        public = _flip(public, 9)
    with pytest.raises(BadSignature):
        verify_signature(public, signature, message)


@pytest.mark.parametrize(
    ("public", "signature", "message"),
    [
        pytest.param(b"\x01" * 31, b"\x00" * 64, b"m", id="short key"),
        pytest.param(b"\x01" * 33, b"\x00" * 64, b"m", id="long key"),
        pytest.param("d75a98" * 10, b"\x00" * 64, b"m", id="key as text"),
        pytest.param(bytes.fromhex(RFC8032_ED25519[0].public_key), b"\x00" * 63, b"",
                     id="short signature"),
        pytest.param(bytes.fromhex(RFC8032_ED25519[0].public_key),
                     bytes.fromhex(RFC8032_ED25519[0].signature), "", id="message as text"),
    ],
)
def test_malformed_inputs_raise_bad_signature(public, signature, message):
    with pytest.raises(BadSignature):
        verify_signature(public, signature, message)


def test_key_id_is_the_first_16_hex_digits_of_sha256():
    public = bytes.fromhex(RFC8032_ED25519[0].public_key)
    assert key_id(public) == hashlib.sha256(public).hexdigest()[:16]
    assert len(key_id(public)) == 16


def test_sign_refuses_a_non_ed25519_key():
    with pytest.raises(CertsError, match="Ed25519"):
        sign(X25519PrivateKey.generate(), b"message")


@pytest.mark.parametrize("make", [Ed25519PrivateKey.generate, X25519PrivateKey.generate],
                         ids=["ed25519", "x25519"])
def test_saved_key_loads_back_with_mode_0600(tmp_path, make):
    key = make()
    path = save_private_key(key, tmp_path / "a.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key(path)
    assert type(loaded) is type(key)
    assert public_bytes(loaded) == public_bytes(key)
    assert [p.name for p in tmp_path.iterdir()] == ["a.key"]  # no temporary file left


def test_saving_over_a_key_replaces_it(tmp_path):
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    save_private_key(first, tmp_path / "k")
    save_private_key(second, tmp_path / "k")
    assert public_bytes(load_private_key(tmp_path / "k")) == public_bytes(second)


def test_load_private_key_refuses_a_tls_key(tmp_path):
    path = save_private_key(ec.generate_private_key(ec.SECP256R1()), tmp_path / "tls.key")
    with pytest.raises(CertsError, match="not an Ed25519 or X25519 key"):
        load_private_key(path)


def test_load_private_key_explains_missing_and_garbage_files(tmp_path):
    with pytest.raises(CertsError, match="no such key file"):
        load_private_key(tmp_path / "missing.key")
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(CertsError, match="not a PEM private key"):
        load_private_key(tmp_path / "junk.key")


def test_load_private_key_refuses_an_encrypted_key(tmp_path):
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"))
    (tmp_path / "enc.key").write_bytes(pem)
    with pytest.raises(CertsError, match="encrypted"):
        load_private_key(tmp_path / "enc.key")


def test_public_key_file_round_trip_pem_and_base64(tmp_path):
    key = Ed25519PrivateKey.generate()
    save_public_key(key, tmp_path / "admin.pub")
    assert load_public_key(tmp_path / "admin.pub") == public_bytes(key)
    import base64

    (tmp_path / "admin.b64").write_text(base64.b64encode(public_bytes(key)).decode() + "\n")
    assert load_public_key(tmp_path / "admin.b64") == public_bytes(key)
    (tmp_path / "bad.pub").write_text("@@@")
    with pytest.raises(CertsError):
        load_public_key(tmp_path / "bad.pub")
