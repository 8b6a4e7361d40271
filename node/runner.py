"""Checks tasks at a node: assembles the pipeline's inputs from the home and logs
the decision before it takes effect."""

from __future__ import annotations

from analyses.tasks import TaskFileError, load_task
from node.errors import NodeError, Refusal
from node.home import NodeHome
from node.verify import Accepted, NodeIdentity, verify_task


def identity(home: NodeHome) -> NodeIdentity:
    kit = home.kit
    return NodeIdentity(kit.party_id, kit.federation, kit.level, kit.region, tuple(kit.datasets))


def available_datasets(home: NodeHome) -> list[str]:
    """Datasets with a current snapshot in the node's catalog."""
    from node.catalog import Catalog

    return sorted(Catalog.load(home.data_dir).datasets())


def current_snapshots(home: NodeHome, datasets) -> dict:
    """dataset -> (snapshot id, file path) of the current snapshot of each dataset.

    Raises NodeError naming a dataset that has none.
    """
    from node.catalog import Catalog

    catalog = Catalog.load(home.data_dir)
    found = {}
    for name in datasets:
        record = catalog.current(name)
        if record is None:
            raise NodeError(f"no snapshot of {name}: ingest it with `fedaudit node ingest`")
        found[name] = (record.snapshot_id, catalog.path_of(record))
    return found


def missing_datasets(home: NodeHome, accepted: Accepted) -> list[str]:
    """Datasets the accepted task needs that this node has not ingested yet."""
    have = set(available_datasets(home))
    return [d for d in accepted.model.datasets.get(home.kit.level, ()) if d not in have]


def check_task(home: NodeHome, task_file: str) -> Accepted:
    """Dry run of the pipeline on a task file; raises Refusal. Logs the decision.

    The dry run judges the task, not today's data: datasets that are still missing
    are reported by `missing_datasets`, and refused as MISSING_DATASET only when
    the task is delivered for execution."""
    from analyses import load_library

    log = home.audit_log()
    # Policy and trust problems are the operator's to fix, not the task's: they raise
    # PolicyError before anything is decided.
    policy, trust = home.policy(), home.trust()
    try:
        task = load_task(task_file)
    except TaskFileError as exc:
        log.append("task.checked", task_id=None, decision="REFUSED", code="BAD_SIGNATURE",
                   reason=str(exc), dry_run=True)
        raise Refusal("BAD_SIGNATURE", str(exc)) from exc
    task_id = _task_id(task)
    try:
        with home.replay_store() as replay:
            accepted = verify_task(
                task, node=identity(home), trust=trust, policy=policy, library=load_library(),
                replay=replay, consume=False,
            )
    except Refusal as refusal:
        log.append("task.checked", task_id=task_id, decision="REFUSED", code=refusal.code,
                   reason=refusal.reason, dry_run=True)
        raise
    log.append("task.checked", task_id=task_id, decision="ACCEPTED",
               analysis=accepted.spec.analysis_id, signers=list(accepted.signers), dry_run=True)
    return accepted


def _task_id(task) -> str | None:
    try:
        return task.spec.task_id
    except TaskFileError:
        return None
