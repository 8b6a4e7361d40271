"""Checks tasks at a node: assembles the pipeline's inputs from the home and logs
the decision before it takes effect."""

from __future__ import annotations

import dataclasses
import logging

from analyses.tasks import TaskFileError, decode_parameters, load_task
from node.errors import NodeError, Refusal
from node.home import NodeHome
from node.verify import Accepted, NodeIdentity, verify_task

log = logging.getLogger("fedaudit.node")


def identity(home: NodeHome) -> NodeIdentity:
    kit = home.kit
    return NodeIdentity(kit.party_id, kit.federation, kit.level, kit.region, tuple(kit.datasets))


def available_datasets(home: NodeHome) -> list[str]:
    """Datasets with a current snapshot in the node's catalog."""
    from node.catalog import Catalog

    return sorted(Catalog.load(home.data_dir).datasets(derived=True))


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


def held_datasets(home: NodeHome, model) -> list[str]:
    """The model's datasets of this node's level that the node holds: all of them, or for
    a registry reading "any" of its datasets, those it has (the rest read as empty)."""
    from analyses._linkage import missing_datasets as missing

    wanted = list(model.datasets.get(home.kit.level, ()))
    if missing(model, home.kit.level, available_datasets(home)):
        return wanted  # current_snapshots names the first one missing
    have = set(available_datasets(home))
    return [d for d in wanted if d in have]


def missing_datasets(home: NodeHome, accepted: Accepted) -> list[str]:
    """Datasets the accepted task needs that this node has not ingested yet."""
    from analyses._linkage import missing_datasets as missing

    return missing(accepted.model, home.kit.level, available_datasets(home))


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


class Runner:
    """Accepts and runs tasks for real at one node: consumes the task id, logs each
    decision before it takes effect, and leaves every outcome in the outbox."""

    def __init__(self, home: NodeHome) -> None:
        from analyses import load_library
        from node.outbox import Outbox

        self.home = home
        self.kit = home.kit
        # A node never works without a policy and a trust list (both raise PolicyError).
        self.policy = home.policy()
        self.trust = home.trust()
        self.library = load_library()
        self.audit = home.audit_log()
        self.outbox = Outbox(home.path / "outbox")

    def accept(self, task, *, key_envelope: bytes | None = None, publish_keys=None) -> Accepted:
        """Runs the pipeline with consume=True; raises Refusal (logged).

        A REPLAYED refusal for a task with no stored report means the node stopped while
        running it: that is recorded as a failure, never run again. A linkage task's key
        is obtained before the task is consumed (`node.linkage.obtain_task_key`, with the
        delivery's `key_envelope`, or `publish_keys` at the key originator)."""
        from node.linkage import obtain_task_key

        task_id = _task_id(task)
        self.audit.append("task.received", task_id=task_id)

        prior = (None, None)

        def get_key(spec, model) -> None:
            nonlocal prior
            if model.builds_on is not None:
                from node.prior import prior_inputs

                prior = prior_inputs(self.home, model, decode_parameters(spec))
            if model.linkage is not None:
                obtain_task_key(self.home, spec, key_envelope, publish_keys,
                                shared=model.linkage.shares_key)
                self.audit.append("task.key", task_id=spec.task_id,
                                  originator=spec.key_originator,
                                  drawn=spec.key_originator == self.kit.party_id)
        try:
            with self.home.replay_store() as replay:
                accepted = verify_task(
                    task, node=identity(self.home), trust=self.trust, policy=self.policy,
                    library=self.library, replay=replay,
                    available_datasets=available_datasets(self.home), consume=True,
                    before_consume=get_key,
                )
        except Refusal as refusal:
            if refusal.code == "REPLAYED" and task_id and not self.outbox.has_report(task_id):
                self.fail(task_id, "the node stopped while running this task; "
                                   "it is not run twice")
            else:
                self.audit.append("task.refused", task_id=task_id, code=refusal.code,
                                  reason=refusal.reason)
            raise
        self.audit.append("task.accepted", task_id=task_id, analysis=accepted.spec.analysis_id,
                          signers=list(accepted.signers))
        return dataclasses.replace(accepted, prior=prior)

    def execute(self, accepted: Accepted) -> None:
        """Runs an accepted task into the outbox: the model, then the disclosure engine,
        then the output and its receipt (held for the operator when the policy says
        release is manual), or a failure."""
        from node.disclosure import apply_disclosure
        from node.executor import execute
        from node.linkage import LinkageFolder, seal_columns
        from node.taskkeys import KeyStore

        task_id = accepted.spec.task_id
        rules = self.policy.disclosure
        model = accepted.model
        try:
            key = KeyStore(self.home.path).get(task_id) if model.linkage else None
            prior_key, returned = accepted.prior
            snapshots = current_snapshots(self.home, held_datasets(self.home, model))
            table = execute(model, self.kit.level, accepted.parameters,
                            {name: path for name, (_, path) in snapshots.items()}, self.policy,
                            task_key=key or prior_key, returned=returned)
            disclosed = apply_disclosure(model, table, rules)
            released = disclosed.table
            if key is not None:
                LinkageFolder(self.home.path).keep(task_id, accepted.task.to_proto()
                                                   .SerializeToString(), table.column("token"))
                released = seal_columns(released, key, task_id,
                                        model.linkage.sealed_columns(model.output))
        except NodeError as exc:
            # Only the public sentence goes to HQ: a database message can quote data.
            self.fail(task_id, getattr(exc, "public", None) or str(exc),
                      detail=getattr(exc, "detail", None) or str(exc))
            return
        except Exception as exc:  # a fault of ours: the task fails, the node goes on
            log.exception("task failed on an internal error", extra={"task_id": task_id})
            self.fail(task_id, "the node failed on an internal error while running the task; "
                      "its operator finds the details in the node's log",
                      detail=f"{type(exc).__name__}: {exc}")
            return
        held = rules.release_mode(accepted.model.kind) == "manual"
        self.audit.append("task.disclosure", task_id=task_id,
                          summary=disclosed.summary, held=held)
        digest = self.outbox.write_done(
            task_id, released, node_id=self.kit.party_id,
            snapshots={name: snap_id for name, (snap_id, _) in snapshots.items()},
            disclosure=disclosed.public_summary,  # the rules applied and what they did
            signing_key=self.kit.signing_key(), held=held,
        )
        self.audit.append("task.executed", task_id=task_id, rows=released.num_rows,
                          output_digest=digest)

    def fail(self, task_id: str, public: str, detail: str | None = None) -> None:
        self.audit.append("task.failed", task_id=task_id, reason=public, detail=detail)
        self.outbox.write_failed(task_id, public)
