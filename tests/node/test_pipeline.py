"""The node's verification pipeline, one refusal code at a time, on real signed tasks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analyses import load_library
from analyses.tasks import (
    SignedTask,
    TaskFileError,
    add_signature,
    draft_task,
    load_task,
    parse_targets,
    save_task,
)
from certs import load_kit
from node import Refusal
from node.home import init_home
from node.policy import parse_policy
from node.runner import identity
from node.verify import REFUSAL_CODES, verify_task
from proto import task_pb2

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


@pytest.fixture()
def home(federation, tmp_path):
    return init_home(federation / "gd", tmp_path / "gd-home")


def make_task(federation: Path, *, analysis_id="fund.benefit_summary", digest=None,
              params=None, targets=("gd",), now=NOW, lifetime=dt.timedelta(hours=2),
              kind=None, signers=("hq-lead",), fed=None) -> SignedTask:
    model = load_library().get("fund.benefit_summary")
    task = draft_task(
        federation="demo" if fed is None else fed,
        analysis_id=analysis_id,
        analysis_version=model.version,
        analysis_digest=model.digest if digest is None else digest,
        output_kind=kind or model.output.kind,
        parameters=model.bind_parameters({}) if params is None else params,
        targets=parse_targets(targets),
        purpose=task_pb2.Purpose(text="test"),
        lifetime=lifetime,
        now=now,
    )
    for signer in signers:
        kit = load_kit(federation / signer) if isinstance(signer, str) else signer
        task = add_signature(task, kit.party_id, kit.signing_key())
    return task


def verify(home, task, *, policy=None, now=NOW, consume=False):
    """Verifies the task as a node reads it: written to a task file and loaded back."""
    path = home.path / "task.json"
    save_task(task, path)
    return verify_task(
        load_task(path), node=identity(home), trust=home.trust(),
        policy=policy or home.policy(), library=load_library(), replay=home.replay_store(),
        consume=consume, now=now,
    )


def refusal_code(home, task, **kwargs) -> str:
    with pytest.raises(Refusal) as caught:
        verify(home, task, **kwargs)
    assert caught.value.code in REFUSAL_CODES
    return caught.value.code


def test_a_properly_signed_task_is_accepted(home, federation):
    accepted = verify(home, make_task(federation))
    assert accepted.signers == ("hq-lead",)
    assert accepted.model.id == "fund.benefit_summary"


def test_bad_signature_when_spec_bytes_change(home, federation):
    task = make_task(federation)
    spec = task.spec
    spec.expires_at.FromDatetime(NOW + dt.timedelta(days=2))
    forged = SignedTask(spec.SerializeToString(), task.signatures)
    assert refusal_code(home, forged) == "BAD_SIGNATURE"


def test_unsigned_task_is_refused(home, federation):
    assert refusal_code(home, make_task(federation, signers=())) == "BAD_SIGNATURE"


def test_unknown_issuer_from_another_federation(home, federation, other_federation):
    foreign = load_kit(other_federation / "hq-lead")
    assert refusal_code(home, make_task(federation, signers=(foreign,))) == "UNKNOWN_ISSUER"


def test_insufficient_approvals_for_tokens_with_one_signer(home, federation):
    task = make_task(federation, kind="tokens")
    assert refusal_code(home, task) == "INSUFFICIENT_APPROVALS"


def test_two_roles_need_two_different_signers(home, federation):
    policy = parse_policy('[approvals]\naggregate = ["lead", "lead"]\n')
    task = make_task(federation)
    assert refusal_code(home, task, policy=policy) == "INSUFFICIENT_APPROVALS"
    policy = parse_policy('[approvals]\naggregate = ["lead", "approver"]\n')
    both = make_task(federation, signers=("hq-lead", "hq-approver"))
    assert verify(home, both, policy=policy).signers == ("hq-lead", "hq-approver")


def test_expired_and_not_yet_valid(home, federation):
    task = make_task(federation, now=NOW - dt.timedelta(hours=3))
    assert refusal_code(home, task) == "EXPIRED"
    # Within the clock-skew allowance the task is still fine.
    late = make_task(federation, now=NOW - dt.timedelta(hours=2, seconds=60))
    verify(home, late)
    early = make_task(federation, now=NOW + dt.timedelta(minutes=10))
    assert refusal_code(home, early) == "NOT_YET_VALID"


def test_replayed_after_acceptance_for_execution(home, federation):
    task = make_task(federation)
    verify(home, task)  # a dry run consumes nothing
    verify(home, task, consume=True)
    assert refusal_code(home, task) == "REPLAYED"


def test_not_a_target(home, federation):
    assert refusal_code(home, make_task(federation, targets=("gx",))) == "NOT_A_TARGET"
    assert refusal_code(home, make_task(federation, fed="other")) == "NOT_A_TARGET"
    verify(home, make_task(federation, targets=("level=province",)))
    verify(home, make_task(federation, targets=("region=440000",)))


def test_unknown_analysis_and_digest_mismatch(home, federation):
    task = make_task(federation, analysis_id="fund.no_such_model")
    assert refusal_code(home, task) == "UNKNOWN_ANALYSIS"
    assert refusal_code(home, make_task(federation, digest="0" * 64)) == "DIGEST_MISMATCH"


def test_not_allowed_by_policy(home, federation):
    policy = parse_policy('[analyses]\ndeny = ["fund.*"]\n')
    assert refusal_code(home, make_task(federation), policy=policy) == "NOT_ALLOWED"
    too_long = make_task(federation, lifetime=dt.timedelta(days=60))
    assert refusal_code(home, too_long) == "NOT_ALLOWED"


def test_bad_parameters(home, federation):
    task = make_task(federation, params={"no_such_parameter": 3})
    assert refusal_code(home, task) == "BAD_PARAMETERS"


def test_every_flipped_byte_is_refused(home, federation):
    task = make_task(federation)
    verify(home, task)

    def refusal_code(home, task):  # in memory: flipped bytes may not even form a file
        with pytest.raises(Refusal) as caught:
            verify_task(task, node=identity(home), trust=trust, policy=policy,
                        library=library, replay=None, now=NOW)
        return caught.value.code

    trust, policy, library = home.trust(), home.policy(), load_library()
    for i in range(len(task.spec_bytes)):
        flipped = bytearray(task.spec_bytes)
        flipped[i] ^= 0x01
        forged = SignedTask(bytes(flipped), task.signatures)
        assert refusal_code(home, forged) == "BAD_SIGNATURE", f"byte {i}"
    sig = task.signatures[0]
    for i in range(len(sig.signature)):
        flipped = bytearray(sig.signature)
        flipped[i] ^= 0x80
        bad = type(sig)(sig.signer_id, sig.key_id, bytes(flipped))
        with pytest.raises(Refusal) as caught:
            verify(home, SignedTask(task.spec_bytes, (bad,)))
        assert caught.value.code == "BAD_SIGNATURE"


def test_missing_dataset_when_delivered_for_execution(home, federation):
    task = make_task(federation)
    with pytest.raises(Refusal) as caught:
        verify_task(task, node=identity(home), trust=home.trust(), policy=home.policy(),
                    library=load_library(), replay=home.replay_store(), now=NOW,
                    available_datasets=[], consume=True)
    assert caught.value.code == "MISSING_DATASET"
    verify(home, task)  # a refusal consumes nothing: the task id is still free


def test_a_flipped_byte_anywhere_in_the_task_file_refuses_it(home, federation, tmp_path):
    """Every byte of a signed task file, flipped in turn: the file is unreadable or refused."""
    task = make_task(federation, now=dt.datetime.now(dt.UTC))
    original = tmp_path / "signed.json"
    save_task(task, original)
    data = original.read_bytes()
    flipped_file = tmp_path / "flipped.json"
    trust, policy, library = home.trust(), home.policy(), load_library()
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        flipped_file.write_bytes(bytes(flipped))
        try:
            loaded = load_task(flipped_file)
        except TaskFileError:
            continue
        with pytest.raises(Refusal):
            verify_task(loaded, node=identity(home), trust=trust, policy=policy,
                        library=library, replay=None)
