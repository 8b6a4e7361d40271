"""The coordinator's side of a linkage task, in one process on a real home and store: the
submission checks, envelopes relayed only from the originator and only to other targets,
deliveries held back until a node's envelope is there, and an originator that gives up."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from analyses import load_library
from analyses.tasks import add_signature, draft_task, parse_targets
from certs import load_kit
from coordinator.errors import CoordinatorError
from coordinator.home import init_home
from coordinator.service import Coordinator, Report
from node.taskkeys import draw_task_key, make_envelopes
from proto import task_pb2


@pytest.fixture()
def coordinator(federation, tmp_path):
    coordinator = Coordinator(init_home(federation / "coordinator", tmp_path / "hq"))
    yield coordinator
    coordinator.close()


def linkage_task(federation, originator="deaths", targets=("gd", "gx", "deaths")):
    model = load_library().get("pension.paid_after_death")
    task = draft_task(federation="demo", analysis_id=model.id, analysis_version=model.version,
                      analysis_digest=model.digest, output_kind="flags",
                      parameters=model.bind_parameters({}), targets=parse_targets(targets),
                      purpose=task_pb2.Purpose(text="test"), lifetime=dt.timedelta(hours=1),
                      key_originator=originator)
    for signer in ("hq-lead", "hq-approver"):
        kit = load_kit(federation / signer)
        task = add_signature(task, kit.party_id, kit.signing_key())
    return task


def envelopes(federation, task_id, recipients=("gd", "gx")):
    kit = load_kit(federation / "deaths")
    made = make_envelopes(draw_task_key(), task_id=task_id, originator_kit=kit,
                          roster=kit.roster(), recipients=list(recipients))
    return [json.dumps(e.to_dict()).encode() for e in made]


def once(coordinator, node_id):
    """What one pass of the node's delivery stream carries (after the node's hello)."""
    coordinator.hello(node_id, [], coordinator.library.digest, "test", "{}")
    turns = iter([True, False])
    return list(coordinator.deliveries(node_id, lambda: next(turns)))


def test_a_linkage_task_must_name_an_originator_among_its_targets(coordinator, federation):
    for originator, words in (("", "key-originator"), ("gx", None)):
        task = linkage_task(federation, originator=originator, targets=("gd", "deaths"))
        if words is None:  # gx is not a target of this task
            words = "not one of the task's targets"
        with pytest.raises(CoordinatorError, match=words) as caught:
            coordinator.submit(task, "hq-lead")
        assert caught.value.code == "INVALID_REQUEST"
    with pytest.raises(CoordinatorError, match="registry node and one other"):
        coordinator.submit(linkage_task(federation, originator="gd", targets=("gd", "gx")),
                           "hq-lead")


def test_envelopes_come_only_from_the_originator_and_release_the_deliveries(coordinator,
                                                                          federation):
    task = linkage_task(federation)
    task_id = task.spec.task_id
    coordinator.submit(task, "hq-lead")
    assert [o.signed_task != b"" for o in once(coordinator, "deaths")] == [True]
    assert once(coordinator, "gd") == []  # waits for its envelope
    sealed = envelopes(federation, task_id)
    with pytest.raises(CoordinatorError) as forged:
        coordinator.publish_keys("gd", task_id, sealed)
    assert forged.value.code == "FORBIDDEN"
    with pytest.raises(CoordinatorError, match="no key envelope for gx"):
        coordinator.publish_keys("deaths", task_id, sealed[:1])
    coordinator.publish_keys("deaths", task_id, sealed)
    coordinator.publish_keys("deaths", task_id, sealed)  # the same again: a no-op
    [delivery] = once(coordinator, "gd")
    assert json.loads(delivery.key_envelope)["recipient"] == "gd"
    with pytest.raises(CoordinatorError, match="never changes"):
        coordinator.publish_keys("deaths", task_id, envelopes(federation, task_id))


def test_an_originator_that_refuses_settles_the_task_at_once(coordinator, federation):
    task = linkage_task(federation)
    task_id = task.spec.task_id
    coordinator.submit(task, "hq-lead")
    coordinator.report("deaths", Report(task_id, "refused", "NOT_ALLOWED", "policy"))
    record = coordinator.status(task_id)
    states = {d.node_id: (d.state, d.message or "") for d in record.deliveries}
    assert states["deaths"][0] == "refused"
    for node_id in ("gd", "gx"):
        assert states[node_id][0] == "failed" and "key originator" in states[node_id][1]
    assert record.settled
