"""Tests for node.taskkeys: envelopes between real node kits, and the node's key store."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import stat

import pytest

from certs import load_kit, wrap_key
from certs.hpke import WrappedKey
from node.errors import NodeError
from node.taskkeys import (
    KeyEnvelopeError,
    KeyStore,
    draw_task_key,
    make_envelopes,
    open_envelope,
)

TASK = "task-6-link"
TARGETS = ["gd", "gx", "deaths"]


@pytest.fixture(scope="module")
def kits(federation):
    return {party: load_kit(federation / party) for party in ("gd", "gx", "deaths", "hq-lead")}


@pytest.fixture(scope="module")
def roster(kits):
    return kits["gd"].roster()


@pytest.fixture(scope="module")
def sent(kits, roster):
    """A task key drawn by gd and its envelopes for the two other targets."""
    key = draw_task_key()
    envelopes = make_envelopes(key, task_id=TASK, originator_kit=kits["gd"], roster=roster,
                               recipients=TARGETS)
    return key, {e.recipient: e for e in envelopes}


def open_at(kits, roster, recipient, envelope, *, task_id=TASK, originator="gd"):
    return open_envelope(envelope, task_id=task_id, expected_originator=originator,
                         kit=kits[recipient], roster=roster)


def test_draw_task_key_is_32_fresh_bytes():
    keys = {draw_task_key() for _ in range(16)}
    assert len(keys) == 16 and all(len(k) == 32 for k in keys)


def test_round_trip_to_every_other_target(kits, roster, sent):
    key, envelopes = sent
    assert sorted(envelopes) == ["deaths", "gx"]  # none for the originator itself
    for recipient, envelope in envelopes.items():
        assert envelope.task_id == TASK and envelope.sender == "gd"
        assert key not in envelope.ciphertext
        assert open_at(kits, roster, recipient, envelope) == key


def test_an_envelope_survives_its_json_form(kits, roster, sent):
    key, envelopes = sent
    wire = json.dumps(envelopes["gx"].to_dict())
    assert open_at(kits, roster, "gx", WrappedKey.from_dict(json.loads(wire))) == key


def test_an_envelope_with_any_byte_changed_is_refused(kits, roster, sent):
    _, envelopes = sent
    envelope = envelopes["gx"]
    for field in ("enc", "ciphertext", "signature"):
        value = getattr(envelope, field)
        for index in range(len(value)):
            changed = bytearray(value)
            changed[index] ^= 0x80
            tampered = dataclasses.replace(envelope, **{field: bytes(changed)})
            with pytest.raises(KeyEnvelopeError, match="signature check failed"):
                open_at(kits, roster, "gx", tampered)


def test_a_truncated_or_extended_envelope_is_refused(kits, roster, sent):
    envelope = sent[1]["gx"]
    for tampered in (dataclasses.replace(envelope, ciphertext=envelope.ciphertext[:-1]),
                     dataclasses.replace(envelope, ciphertext=envelope.ciphertext + b"\0"),
                     dataclasses.replace(envelope, enc=envelope.enc[:-1])):
        with pytest.raises(KeyEnvelopeError):
            open_at(kits, roster, "gx", tampered)


def test_an_envelope_for_another_task_is_refused(kits, roster, sent):
    envelope = sent[1]["gx"]
    with pytest.raises(KeyEnvelopeError, match="task check failed"):
        open_at(kits, roster, "gx", envelope, task_id="another-task")
    relabelled = dataclasses.replace(envelope, task_id="another-task")
    with pytest.raises(KeyEnvelopeError, match="signature check failed"):
        open_at(kits, roster, "gx", relabelled, task_id="another-task")


def test_an_envelope_for_another_recipient_is_refused(kits, roster, sent):
    envelope = sent[1]["deaths"]
    with pytest.raises(KeyEnvelopeError, match="recipient check failed"):
        open_at(kits, roster, "gx", envelope)
    readdressed = dataclasses.replace(envelope, recipient="gx")
    with pytest.raises(KeyEnvelopeError, match="signature check failed"):
        open_at(kits, roster, "gx", readdressed)


def test_an_envelope_from_another_originator_than_the_task_names_is_refused(kits, roster):
    key = draw_task_key()
    (from_gx,) = make_envelopes(key, task_id=TASK, originator_kit=kits["gx"], roster=roster,
                                recipients=["gx", "deaths"])
    with pytest.raises(KeyEnvelopeError, match="originator check failed"):
        open_at(kits, roster, "deaths", from_gx, originator="gd")
    assert open_at(kits, roster, "deaths", from_gx, originator="gx") == key


def test_an_envelope_signed_by_another_node_is_refused(kits, roster):
    forged = wrap_key(draw_task_key(), task_id=TASK, sender_id="gd", recipient_id="deaths",
                      recipient_public=roster.party("deaths").x25519,
                      sender_signing_key=kits["gx"].signing_key())
    with pytest.raises(KeyEnvelopeError, match="signature check failed"):
        open_at(kits, roster, "deaths", forged)


def test_an_envelope_signed_by_a_node_of_another_federation_is_refused(kits, roster,
                                                                       other_federation):
    foreign = load_kit(other_federation / "gd")
    forged = wrap_key(draw_task_key(), task_id=TASK, sender_id="gd", recipient_id="gx",
                      recipient_public=roster.party("gx").x25519,
                      sender_signing_key=foreign.signing_key())
    with pytest.raises(KeyEnvelopeError, match="signature check failed"):
        open_at(kits, roster, "gx", forged)


def test_an_unsigned_envelope_is_refused(kits, roster, sent):
    unsigned = dataclasses.replace(sent[1]["gx"], signature=b"")
    with pytest.raises(KeyEnvelopeError, match="unsigned"):
        open_at(kits, roster, "gx", unsigned)


@pytest.mark.parametrize("originator", ["ghost", "hq-lead"])
def test_an_originator_that_is_not_a_roster_node_is_refused(kits, roster, originator):
    envelope = wrap_key(draw_task_key(), task_id=TASK, sender_id=originator,
                        recipient_id="gx", recipient_public=roster.party("gx").x25519,
                        sender_signing_key=kits["hq-lead"].signing_key())
    with pytest.raises(KeyEnvelopeError, match="originator check failed"):
        open_at(kits, roster, "gx", envelope, originator=originator)


def test_make_envelopes_refuses_unknown_recipients_and_non_node_originators(kits, roster):
    key = draw_task_key()
    with pytest.raises(KeyEnvelopeError, match="not a node of the roster"):
        make_envelopes(key, task_id=TASK, originator_kit=kits["gd"], roster=roster,
                       recipients=["gx", "ghost"])
    with pytest.raises(KeyEnvelopeError, match="named twice"):
        make_envelopes(key, task_id=TASK, originator_kit=kits["gd"], roster=roster,
                       recipients=["gx", "gx"])
    with pytest.raises(KeyEnvelopeError, match="not a node"):
        make_envelopes(key, task_id=TASK, originator_kit=kits["hq-lead"], roster=roster,
                       recipients=["gx"])
    with pytest.raises(KeyEnvelopeError, match="cannot wrap"):
        make_envelopes(b"short", task_id=TASK, originator_kit=kits["gd"], roster=roster,
                       recipients=["gx"])


def test_a_kit_of_another_federation_cannot_originate(roster, other_federation):
    with pytest.raises(KeyEnvelopeError, match="not the Ed25519 key the roster lists"):
        make_envelopes(draw_task_key(), task_id=TASK,
                       originator_kit=load_kit(other_federation / "gd"), roster=roster,
                       recipients=["gx"])


def test_key_envelope_error_is_a_node_error():
    assert issubclass(KeyEnvelopeError, NodeError)


# The key store.

def files_holding(folder, key: bytes) -> list[str]:
    """Files under folder whose bytes contain key raw, in hex or in base64."""
    forms = (key, key.hex().encode(), base64.b64encode(key))
    return [p.name for p in folder.rglob("*") if p.is_file()
            and any(form in p.read_bytes() for form in forms)]


def test_key_store_round_trip_with_private_permissions(tmp_path):
    store, key = KeyStore(tmp_path), draw_task_key()
    store.put(TASK, key, erase_after=2_000_000_000)
    assert store.get(TASK, now=1_000_000_000) == key
    path = tmp_path / "keys" / f"{TASK}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["erase_after"] == 2_000_000_000
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    store.put(TASK, key, erase_after=2_000_000_000)  # the same key again is harmless
    assert store.get(TASK, now=1_000_000_000) == key


def test_key_store_refuses_a_second_different_key(tmp_path):
    store = KeyStore(tmp_path)
    store.put(TASK, draw_task_key(), erase_after=2_000_000_000)
    with pytest.raises(KeyEnvelopeError, match="different key"):
        store.put(TASK, draw_task_key(), erase_after=2_000_000_000)


def test_key_store_get_refuses_an_absent_key(tmp_path):
    with pytest.raises(KeyEnvelopeError, match="no key for task"):
        KeyStore(tmp_path).get(TASK)


@pytest.mark.parametrize("task_id", ["../escape", ".hidden", "", "a/b"])
def test_key_store_refuses_task_ids_that_are_not_file_names(tmp_path, task_id):
    with pytest.raises(KeyEnvelopeError, match="cannot name a key file"):
        KeyStore(tmp_path).put(task_id, draw_task_key(), erase_after=1)


def test_erase_expired_removes_only_expired_keys_and_leaves_no_copy(tmp_path):
    store = KeyStore(tmp_path)
    old, young = draw_task_key(), draw_task_key()
    store.put("old-task", old, erase_after=1_000)
    store.put("young-task", young, erase_after=5_000)
    folder = tmp_path / "keys"
    stale = folder / ".old-task.json.crashed.tmp"
    stale.write_bytes(base64.b64encode(old))
    os.utime(stale, (0, 0))
    assert files_holding(folder, old) == ["old-task.json", stale.name]

    assert store.erase_expired(now=2_000) == ["old-task"]

    assert files_holding(folder, old) == []
    assert not (folder / "old-task.json").exists()
    with pytest.raises(KeyEnvelopeError, match="erased"):
        store.get("old-task", now=2_000)
    assert store.get("young-task", now=2_000) == young
    assert store.erase_expired(now=2_000) == []
    assert store.erase_expired(now=5_000) == ["young-task"]
    assert files_holding(folder, young) == []


def test_an_erased_key_cannot_be_stored_again(tmp_path):
    store, key = KeyStore(tmp_path), draw_task_key()
    store.put(TASK, key, erase_after=1_000)
    store.erase(TASK)
    with pytest.raises(KeyEnvelopeError, match="erased"):
        store.put(TASK, key, erase_after=9_000_000_000)
    assert files_holding(tmp_path, key) == []


def test_get_erases_a_key_past_its_period(tmp_path):
    store, key = KeyStore(tmp_path), draw_task_key()
    store.put(TASK, key, erase_after=1_000)
    with pytest.raises(KeyEnvelopeError, match="expired"):
        store.get(TASK, now=1_000)
    assert files_holding(tmp_path, key) == []


def test_erase_expired_erases_an_unreadable_key_file(tmp_path):
    store = KeyStore(tmp_path)
    store.put(TASK, draw_task_key(), erase_after=9_000_000_000)
    (tmp_path / "keys" / f"{TASK}.json").write_text("{not json")
    with pytest.raises(KeyEnvelopeError, match="unreadable"):
        store.get(TASK)
    assert store.erase_expired(now=0) == [TASK]
    assert not (tmp_path / "keys" / f"{TASK}.json").exists()


def test_erase_expired_without_a_key_folder_erases_nothing(tmp_path):
    assert KeyStore(tmp_path).erase_expired(now=10**10) == []
