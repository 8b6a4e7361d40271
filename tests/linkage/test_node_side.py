"""A node's side of a linkage task, in one process with real kits and homes: getting the
task key (and refusing a bad envelope without consuming anything), sealing attributes so
dummies look like real rows, refusing foreign tokens, and erasing the key on time."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from analyses.tasks import draft_task, parse_targets
from node.errors import Refusal
from node.home import NodeHome, init_home
from node.linkage import (
    ForeignToken,
    check_own_tokens,
    obtain_task_key,
    open_columns,
    seal_columns,
)
from node.taskkeys import KeyEnvelopeError, KeyStore
from node.tokens import token_of
from proto import task_pb2


@pytest.fixture()
def homes(federation, tmp_path):
    out = {}
    for node_id in ("gd", "gx", "deaths"):
        init_home(federation / node_id, tmp_path / node_id)
        out[node_id] = NodeHome.open(tmp_path / node_id)
    return out


def spec_for(originator: str = "deaths", lifetime=dt.timedelta(hours=1)):
    task = draft_task(federation="demo", analysis_id="pension.paid_after_death",
                      analysis_version="1.0.0", analysis_digest="0" * 64, output_kind="flags",
                      parameters={}, targets=parse_targets(["gd", "gx", "deaths"]),
                      purpose=task_pb2.Purpose(text="test"), lifetime=lifetime,
                      key_originator=originator)
    return task.spec


def publish_to(captured: list):
    def publish(envelopes) -> None:
        captured.extend(json.dumps(e.to_dict()).encode() for e in envelopes)
    return publish


def test_originator_draws_publishes_and_targets_open_the_same_key(homes):
    spec = spec_for()
    sent: list[bytes] = []
    key = obtain_task_key(homes["deaths"], spec, None, publish_to(sent))
    by_recipient = {json.loads(e)["recipient"]: e for e in sent}
    assert set(by_recipient) == {"gd", "gx"}
    for node_id in ("gd", "gx"):
        assert obtain_task_key(homes[node_id], spec, by_recipient[node_id], None) == key
        assert KeyStore(homes[node_id].path).get(spec.task_id) == key
    # A second delivery at the originator reuses its key and publishes the same key again.
    again: list[bytes] = []
    assert obtain_task_key(homes["deaths"], spec, None, publish_to(again)) == key


def test_missing_tampered_or_misdirected_envelopes_are_refused_and_store_nothing(homes):
    spec = spec_for()
    sent: list[bytes] = []
    obtain_task_key(homes["deaths"], spec, None, publish_to(sent))
    envelopes = {json.loads(e)["recipient"]: json.loads(e) for e in sent}
    gd = homes["gd"]
    with pytest.raises(Refusal) as missing:
        obtain_task_key(gd, spec, None, None)
    assert missing.value.code == "KEY_UNAVAILABLE" and "no key envelope" in missing.value.reason
    tampered = dict(envelopes["gd"])
    raw = bytearray(tampered["ciphertext"].encode())
    raw[5] = ord("A") if raw[5] != ord("A") else ord("B")
    tampered["ciphertext"] = raw.decode()
    with pytest.raises(Refusal) as bad:
        obtain_task_key(gd, spec, json.dumps(tampered).encode(), None)
    assert bad.value.code == "KEY_UNAVAILABLE"
    with pytest.raises(Refusal) as other:  # gx's envelope does not open at gd
        obtain_task_key(gd, spec, json.dumps(envelopes["gx"]).encode(), None)
    assert other.value.code == "KEY_UNAVAILABLE"
    with pytest.raises(KeyEnvelopeError):
        KeyStore(gd.path).get(spec.task_id)
    # An envelope the task's originator did not sign (gx claims to originate) is refused.
    forged = spec_for(originator="gx")
    with pytest.raises(Refusal):
        obtain_task_key(gd, forged, json.dumps(envelopes["gd"]).encode(), None)


def test_a_task_without_a_key_originator_is_refused(homes):
    with pytest.raises(Refusal) as caught:
        obtain_task_key(homes["gd"], spec_for(originator=""), b"{}", None)
    assert caught.value.code == "KEY_UNAVAILABLE" and "originator" in caught.value.reason


def test_the_key_is_erased_when_the_verification_period_ends(homes):
    deaths = homes["deaths"]
    policy = deaths.path / "policy.toml"
    policy.write_text(policy.read_text().replace("verification_days = 180",
                                                 "verification_days = 1"))
    spec = spec_for(lifetime=dt.timedelta(minutes=5))
    obtain_task_key(deaths, spec, None, publish_to([]))
    store = KeyStore(deaths.path)
    expires = spec.expires_at.ToSeconds()
    assert store.erase_expired(expires + 86_400 - 60) == []
    assert store.get(spec.task_id)
    assert store.erase_expired(expires + 86_400 + 1) == [spec.task_id]
    with pytest.raises(KeyEnvelopeError, match="erased"):
        store.get(spec.task_id)
    assert not any(p.suffix == ".json" for p in store.folder.iterdir())


def test_sealed_attributes_hide_which_rows_are_dummies_and_open_to_their_types():
    key, task_id = b"k" * 32, "a" * 32
    tokens = [token_of(key, "11010519491231002X"), "f" * 64]  # a real row and a dummy
    table = pa.table({"token": tokens,
                      "death_date": pa.array([dt.date(2024, 3, 15), None], pa.date32())})
    sealed = seal_columns(table, key, task_id, ("death_date",))
    values = sealed.column("death_date").to_pylist()
    assert sealed.schema.field("death_date").type == pa.string()
    assert len(values[0]) == len(values[1]) and "2024" not in values[0]
    opened = open_columns(sealed, key, task_id, {"death_date": pa.date32()})
    assert opened.column("death_date").to_pylist() == [dt.date(2024, 3, 15), None]
    # Moved to another row (another token), a sealed value no longer opens.
    swapped = sealed.set_column(1, "death_date", pa.array(list(reversed(values))))
    with pytest.raises(Exception, match="does not open"):
        open_columns(swapped, key, task_id, {"death_date": pa.date32()})


def test_a_return_with_a_foreign_or_dummy_token_is_refused():
    real = pa.array(["a" * 64, "b" * 64])
    check_own_tokens(pa.table({"token": ["a" * 64]}), real)
    check_own_tokens(pa.table({"token": pa.array([], pa.string())}), real)
    with pytest.raises(ForeignToken, match="1 token"):
        check_own_tokens(pa.table({"token": ["a" * 64, "c" * 64]}), real)


