"""An independent, test-only HPKE base mode (RFC 9180) and HKDF (RFC 5869).

`certs.hpke` uses the HPKE that `cryptography` ships. This small second
implementation, written from the RFC text with only HMAC, X25519 and AES-GCM
primitives, is checked against the RFC 5869 and RFC 9180 vectors and then used to
open what `wrap_key` seals (and to seal what `unwrap_key` opens): proof that our
wrapped keys are standard RFC 9180 base mode, readable by any other implementation.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HASH_LENGTH = 32
KEM_ID = 0x0020  # DHKEM(X25519, HKDF-SHA256)
KDF_ID = 0x0001  # HKDF-SHA256
AES_128_GCM = (0x0001, 16)  # (aead id, key length)
AES_256_GCM = (0x0002, 32)
NONCE_LENGTH = 12


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """RFC 5869 section 2.2; an empty salt acts as HashLen zero bytes in HMAC."""
    return hmac.new(salt or bytes(HASH_LENGTH), ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 section 2.3."""
    assert length <= 255 * HASH_LENGTH
    output, block, counter = b"", b"", 1
    while len(output) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        output += block
        counter += 1
    return output[:length]


def labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    """RFC 9180 section 4, LabeledExtract."""
    return hkdf_extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    """RFC 9180 section 4, LabeledExpand."""
    labeled_info = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    return hkdf_expand(prk, labeled_info, length)


_KEM_SUITE = b"KEM" + KEM_ID.to_bytes(2, "big")


def _extract_and_expand(dh: bytes, kem_context: bytes) -> bytes:
    eae_prk = labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    return labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", kem_context, HASH_LENGTH)


def _raw(public: X25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def encap(recipient_public: bytes, ephemeral: X25519PrivateKey) -> tuple[bytes, bytes]:
    """RFC 9180 section 4.1, Encap with a given ephemeral key: (shared_secret, enc)."""
    dh = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    enc = _raw(ephemeral.public_key())
    return _extract_and_expand(dh, enc + recipient_public), enc


def decap(enc: bytes, recipient: X25519PrivateKey) -> bytes:
    """RFC 9180 section 4.1, Decap: the shared secret."""
    dh = recipient.exchange(X25519PublicKey.from_public_bytes(enc))
    return _extract_and_expand(dh, enc + _raw(recipient.public_key()))


def key_schedule_base(shared_secret: bytes, info: bytes,
                      aead: tuple[int, int]) -> tuple[bytes, bytes]:
    """RFC 9180 section 5.1, KeySchedule in base mode (no PSK): (key, base_nonce)."""
    aead_id, key_length = aead
    suite_id = (b"HPKE" + KEM_ID.to_bytes(2, "big") + KDF_ID.to_bytes(2, "big")
                + aead_id.to_bytes(2, "big"))
    psk_id_hash = labeled_extract(suite_id, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(suite_id, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = labeled_extract(suite_id, shared_secret, b"secret", b"")
    key = labeled_expand(suite_id, secret, b"key", context, key_length)
    base_nonce = labeled_expand(suite_id, secret, b"base_nonce", context, NONCE_LENGTH)
    return key, base_nonce


def seal_base(recipient_public: bytes, info: bytes, aad: bytes, plaintext: bytes,
              aead: tuple[int, int], ephemeral: X25519PrivateKey) -> tuple[bytes, bytes]:
    """Single-shot base-mode seal (sequence number 0): (enc, ciphertext)."""
    shared, enc = encap(recipient_public, ephemeral)
    key, nonce = key_schedule_base(shared, info, aead)
    return enc, AESGCM(key).encrypt(nonce, plaintext, aad)


def open_base(enc: bytes, recipient: X25519PrivateKey, info: bytes, aad: bytes,
              ciphertext: bytes, aead: tuple[int, int]) -> bytes:
    """Single-shot base-mode open (sequence number 0)."""
    key, nonce = key_schedule_base(decap(enc, recipient), info, aead)
    return AESGCM(key).decrypt(nonce, ciphertext, aad)
