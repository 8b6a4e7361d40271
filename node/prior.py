"""What a task that builds on an earlier presence task reads at the node (analyses._linkage).

A model with ``[builds_on]`` names, in one of its parameters, an earlier task of the
presence model it builds on. The node then runs the model with that task's key, so
``fa_token`` gives the tokens it gave then, and with that task's return as the table
``returned``: the node's own probe tokens that another node holds as present. Nothing of
the earlier task leaves the node again; the later task's output goes through the node's
disclosure control like any other.

Every reason not to run is a Refusal PRIOR_UNAVAILABLE, raised before the task id is
consumed, so that the task may come again once the reason is gone.
"""

from __future__ import annotations

import json

import pyarrow as pa

from analyses._linkage import TASK_ID
from node.errors import NodeError, Refusal

__all__ = ["prior_inputs"]


def prior_inputs(home, model, parameters: dict, *, now: float | None = None
                 ) -> tuple[bytes | None, pa.Table | None]:
    """(task key, returned table) for running `model` with `parameters` at `home`'s node.

    Without an earlier task: (None, None), and the executor runs the model on this node's
    data alone (`node.executor.execute`). Raises Refusal PRIOR_UNAVAILABLE when this node did
    not run the named task, the task ran another model, its return is not processed yet,
    its key is gone, or a dataset both models read was ingested again since it ran.
    """
    from analyses.tasks import SignedTask
    from node.linkage import LinkageFolder
    from node.outbox import Outbox
    from node.runner import current_snapshots
    from node.taskkeys import KeyStore

    prior = model.builds_on.prior(parameters)
    if not prior:
        return None, None
    wanted = model.builds_on.model

    def refuse(why: str) -> Refusal:
        return Refusal("PRIOR_UNAVAILABLE", f"{model.id} builds on task {prior} "
                       f"({wanted}), but {why}")

    if not TASK_ID.fullmatch(prior):
        raise refuse("that is not a task id (32 lowercase hex digits)")
    folder = LinkageFolder(home.path)
    try:
        spec = SignedTask.from_bytes(folder.signed_task(prior)).spec
    except NodeError:
        raise refuse("that task did not run at this node") from None
    if spec.analysis_id != wanted:
        raise refuse(f"that task ran {spec.analysis_id}")
    if not folder.processed(prior):
        raise refuse("its return has not reached this node yet; submit again once "
                     f"`fedaudit results verification {prior}` lists this node")
    try:
        key = KeyStore(home.path).get(prior, now=now)
    except NodeError as exc:
        raise refuse(str(exc)) from None
    then = _snapshots_of(Outbox(home.path / "outbox"), prior)
    if then is None:
        raise refuse("this node's receipt of it is missing, so its data cannot be compared")
    now_held = current_snapshots(home, [d for d in then if d in _datasets(model)])
    changed = sorted(d for d, (snap, _) in now_held.items() if then[d] != snap)
    if changed:
        raise refuse(f"{', '.join(changed)} was ingested again since it ran, so its probes "
                     "may miss new persons; run the earlier model again and name the new task")
    return key, folder.returned(prior)


def _datasets(model) -> set[str]:
    return {d for names in model.datasets.values() for d in names}


def _snapshots_of(outbox, task_id: str) -> dict[str, str] | None:
    """The dataset snapshot ids the node's receipt for `task_id` names; None when the
    receipt is missing or unreadable."""
    try:
        body, _ = outbox.receipt(task_id)
        return dict(json.loads(body)["snapshots"])
    except (OSError, KeyError, TypeError, ValueError):
        return None
