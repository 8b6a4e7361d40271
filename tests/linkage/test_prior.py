"""A task that builds on an earlier presence task, at the node (`node.prior`), with a real
node home: every reason not to run is PRIOR_UNAVAILABLE and names what is missing; a
processed presence task gives its key and its returned tokens."""

from __future__ import annotations

import datetime as dt
import secrets
import time

import pyarrow as pa
import pytest

from analyses import load_library
from analyses.tasks import draft_task, parse_targets
from node.errors import Refusal
from node.home import NodeHome, init_home
from node.linkage import LinkageFolder
from node.outbox import Outbox
from node.prior import prior_inputs
from node.taskkeys import KeyStore
from proto import task_pb2

MODEL = load_library().get("assistance.not_enrolled")


@pytest.fixture()
def home(federation, tmp_path) -> NodeHome:
    init_home(federation / "gd", tmp_path / "gd")
    return NodeHome.open(tmp_path / "gd")


def kept_task(home: NodeHome, analysis_id: str = "assistance.enrolled_elsewhere",
              tokens: tuple[str, ...] = ("a" * 64, "b" * 64)) -> str:
    """A linkage task as the node keeps it after running it: the signed task and its tokens."""
    task = draft_task(federation="demo", analysis_id=analysis_id, analysis_version="1.0.0",
                      analysis_digest="0" * 64, output_kind="flags", parameters={},
                      targets=parse_targets(["gd", "gx"]), purpose=task_pb2.Purpose(text="t"),
                      lifetime=dt.timedelta(hours=1), key_originator="gd")
    LinkageFolder(home.path).keep(task.spec.task_id, task.to_proto().SerializeToString(),
                                  pa.array(tokens, pa.string()))
    Outbox(home.path / "outbox").write_done(
        task.spec.task_id, pa.table({"token": pa.array(tokens, pa.string())}), node_id="gd",
        snapshots={}, disclosure={}, signing_key=home.kit.signing_key())
    return task.spec.task_id


def refusal(home: NodeHome, prior: str) -> str:
    with pytest.raises(Refusal) as caught:
        prior_inputs(home, MODEL, {"enrolment_task": prior})
    assert caught.value.code == "PRIOR_UNAVAILABLE"
    return caught.value.reason


def test_without_an_earlier_task_nothing_is_read(home):
    # The executor then runs the model on this node's data alone (tests/models).
    assert prior_inputs(home, MODEL, {"enrolment_task": ""}) == (None, None)
    assert prior_inputs(home, MODEL, {"enrolment_task": "  "}) == (None, None)


def test_a_processed_presence_task_gives_its_key_and_returned_tokens(home):
    task_id = kept_task(home)
    key = secrets.token_bytes(32)
    KeyStore(home.path).put(task_id, key, time.time() + 3600)
    folder = LinkageFolder(home.path)
    folder.keep_return(task_id, pa.table({"token": pa.array(["b" * 64], pa.string())}))
    folder.mark_processed(task_id)
    got_key, returned = prior_inputs(home, MODEL, {"enrolment_task": task_id})
    assert got_key == key and returned.column("token").to_pylist() == ["b" * 64]


def test_each_missing_piece_is_refused_by_name(home):
    assert "not a task id" in refusal(home, "../../etc/passwd")
    assert "did not run at this node" in refusal(home, "0" * 32)
    other = kept_task(home, analysis_id="pension.cross_province_duplicate")
    assert "ran pension.cross_province_duplicate" in refusal(home, other)
    waiting = kept_task(home)
    assert "has not reached this node yet" in refusal(home, waiting)
    LinkageFolder(home.path).keep_return(waiting, pa.table({"token": pa.array([], pa.string())}))
    LinkageFolder(home.path).mark_processed(waiting)
    assert "holds no key" in refusal(home, waiting)
    KeyStore(home.path).put(waiting, secrets.token_bytes(32), time.time() + 3600)
    (home.path / "outbox" / waiting / "receipt.json").unlink()
    assert "receipt of it is missing" in refusal(home, waiting)
    KeyStore(home.path).erase(waiting)
    assert "erased" in refusal(home, waiting)
