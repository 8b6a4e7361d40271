"""The coordinator's part in linkage tasks (DESIGN §5): relaying key envelopes blind, the
blind join at combine time, each node's return, and the nodes' verification reports.

Mixed into `coordinator.service.Coordinator`; it uses the coordinator's store, roster,
library and home. The coordinator never holds a task key and never reads a sealed value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from analyses.tasks import SignedTask
from coordinator.errors import CoordinatorError

log = logging.getLogger("fedaudit.coordinator")


class LinkageDuties:
    """Linkage methods of the Coordinator (self.store, self.roster, self.library, self.home,
    self._work and self._originators come from it)."""

    def _check_linkage_targets(self, model, originator: str, targets: list[str]) -> None:
        """A linkage task names a key originator among its targets, and the nodes its
        pattern joins."""
        from analyses._linkage import REGISTRY_ATTRIBUTES

        if not originator:
            raise CoordinatorError(f"{model.id} links records across nodes: name the node that "
                                   "draws the task key (task draft --key-originator NODE)",
                                   "INVALID_REQUEST")
        if originator not in targets:
            raise CoordinatorError(f"the key originator {originator} is not one of the task's "
                                   "targets", "INVALID_REQUEST")
        levels = {self.roster.party(n).level for n in targets}
        if model.linkage.pattern == REGISTRY_ATTRIBUTES and (
                "registry" not in levels or levels == {"registry"}):
            raise CoordinatorError(f"{model.id} joins registry records with other nodes' "
                                   "records: target at least one registry node and one other "
                                   "node", "INVALID_REQUEST")
        if len(targets) < 2:
            raise CoordinatorError(f"{model.id} joins records of several nodes: target at "
                                   "least two", "INVALID_REQUEST")

    def _check_prior(self, model, spec, targets: list[str]) -> None:
        """A task that builds on an earlier presence task names one of that model that
        finished here, and targets only nodes that processed its return (the nodes decide
        again; this gives an early, clear error)."""
        from analyses._linkage import TASK_ID
        from analyses.tasks import TaskFileError, decode_parameters

        try:
            prior = model.builds_on.prior(decode_parameters(spec))
        except TaskFileError as exc:
            raise CoordinatorError(str(exc), "INVALID_REQUEST") from exc
        if not prior:
            return
        name = model.builds_on.parameter
        record = self.store.task(prior) if TASK_ID.fullmatch(prior) else None
        if record is None or record.analysis_id != model.builds_on.model:
            raise CoordinatorError(f"{name} = {prior!r} is not a {model.builds_on.model} task "
                                   "of this coordinator; run that model first and name its "
                                   "task id", "INVALID_REQUEST")
        processed = {r.node_id for r in self.store.returns_of(prior) if r.state == "processed"}
        lacking = [n for n in targets if n not in processed]
        if lacking:
            raise CoordinatorError(
                f"{', '.join(lacking)} did not process the return of task {prior} (state "
                f"{record.state}; see `fedaudit results verification {prior}`): wait until "
                "they have, or leave them out of the targets", "INVALID_REQUEST")

    def _key_originator(self, task_id: str, signed: bytes) -> str:
        """The key originator of a linkage task, or "" for any other task (cached)."""
        if task_id not in self._originators:
            spec = SignedTask.from_bytes(signed).spec
            model = self.library.get(spec.analysis_id)
            shared = model.linkage is not None and model.linkage.shares_key
            self._originators[task_id] = spec.key_originator if shared else ""
        return self._originators[task_id]

    def _originator_gave_up(self, task_id: str, node_id: str) -> None:
        """When a linkage task's key originator refuses or fails it, the other targets can
        never get the key: their deliveries still waiting for it fail at once, so the task
        settles now instead of at its deadline."""
        record = self.status(task_id)
        if self._key_originator(task_id, record.signed_task) != node_id:
            return
        message = (f"the key originator {node_id} did not draw the task key (it refused or "
                   "failed the task), so this node never received the task")
        for delivery in record.deliveries:
            if delivery.node_id != node_id and delivery.state == "pending" \
                    and self.store.envelope(task_id, delivery.node_id) is None:
                self.store.record_report(task_id, delivery.node_id, "failed", message=message)
        log.warning("key originator gave up", extra={"task_id": task_id, "node_id": node_id})

    def publish_keys(self, node_id: str, task_id: str, envelopes: list[bytes]) -> None:
        """Stores the key originator's envelopes, one per other target, to relay them blind.

        Only the originator the signed task names may publish, only while the task runs,
        and only for the task's other targets. Raises CoordinatorError (FORBIDDEN,
        NOT_FOUND, BAD_REPORT)."""
        from certs.hpke import WrappedKey
        from coordinator.store import StoreError

        record = self.status(task_id)
        if self._key_originator(task_id, record.signed_task) != node_id:
            raise CoordinatorError(f"{node_id} is not the key originator of task {task_id}",
                                   "FORBIDDEN")
        targets = {d.node_id for d in record.deliveries} - {node_id}
        by_recipient: dict[str, bytes] = {}
        for raw in envelopes:
            try:
                wrapped = WrappedKey.from_dict(json.loads(raw))
            except Exception as exc:
                raise CoordinatorError(f"a key envelope is not readable: {exc}",
                                       "BAD_REPORT") from exc
            if wrapped.task_id != task_id or wrapped.sender != node_id:
                raise CoordinatorError("a key envelope names another task or sender",
                                       "BAD_REPORT")
            if wrapped.recipient not in targets:
                raise CoordinatorError(f"a key envelope is for {wrapped.recipient}, which is "
                                       "not another target of the task", "BAD_REPORT")
            by_recipient[wrapped.recipient] = bytes(raw)
        missing = sorted(targets - set(by_recipient))
        if missing:
            raise CoordinatorError(f"no key envelope for {', '.join(missing)}; wrap the key for "
                                   "every other target", "BAD_REPORT")
        try:
            self.store.put_envelopes(task_id, node_id, by_recipient)
        except StoreError as exc:
            raise CoordinatorError(str(exc), "BAD_REPORT") from exc
        log.info("key envelopes stored", extra={"task_id": task_id, "by": node_id,
                                                "recipients": sorted(by_recipient)})
        with self._work:
            self._work.notify_all()

    def fetch_return(self, node_id: str, task_id: str) -> tuple[dict, Iterator[bytes]]:
        """The node's own return of a linkage task: a header and the file's chunks.

        Raises CoordinatorError NOT_FOUND when the node has no return of that task."""
        from coordinator.results import MAX_CHUNK

        found = self.store.return_of(task_id, node_id)
        if found is None:
            raise CoordinatorError(f"{node_id} has no return of task {task_id}", "NOT_FOUND")
        header = {"task_id": task_id, "node_id": node_id, "rows": found.rows,
                  "digest": found.digest}

        def chunks() -> Iterator[bytes]:
            with open(found.path, "rb") as handle:
                while chunk := handle.read(MAX_CHUNK):
                    yield chunk

        return header, chunks()

    def verification_report(self, node_id: str, task_id: str, body: bytes) -> None:
        """Takes a node's verification state of a linkage task (coordinator.verification);
        a report saying the node refused its return marks the return refused."""
        from coordinator.store import StoreError
        from coordinator.verification import record_verification

        if self.store.return_of(task_id, node_id) is None:
            raise CoordinatorError(f"{node_id} has no return of task {task_id}", "NOT_FOUND")
        try:
            report = json.loads(body)
        except ValueError as exc:
            raise CoordinatorError("the verification report is not JSON", "BAD_REPORT") from exc
        if not isinstance(report, dict) or report.get("task_id") != task_id \
                or report.get("node_id") != node_id:
            raise CoordinatorError("the verification report names another task or node",
                                   "BAD_REPORT")
        try:
            if "refused" in report:
                self.store.set_return_state(task_id, node_id, "refused",
                                            str(report["refused"])[:500])
                log.warning("node refused its return", extra={"task_id": task_id,
                                                              "node_id": node_id})
                return
            record_verification(self.store, node_id, body)
            self.store.set_return_state(task_id, node_id, "processed")
        except StoreError as exc:
            raise CoordinatorError(str(exc), "BAD_REPORT") from exc

    def _combine_linkage(self, task_id: str, model, done: dict, params: dict, out):
        """The blind join, each node's return recorded, and the combine SQL over the join's
        summary. Returns (rows of the result, the provenance's linkage part)."""
        import hashlib

        from coordinator.combine import combine_summary
        from coordinator.linkage import blind_join
        from coordinator.results import count_rows, result_dir

        levels = {node_id: self.roster.party(node_id).level for node_id in done}
        joined = blind_join(model.linkage.pattern, done, levels,
                            result_dir(self.home.path, task_id) / "returns",
                            match_on=model.linkage.match_on)
        rows = combine_summary(model.sql["combine"], joined.summary, out, params)
        returns = {}
        for node_id, path in joined.returns.items():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            returns[node_id] = (str(path), count_rows(path), digest)
        self.store.put_returns(task_id, returns)
        with self._work:
            self._work.notify_all()
        return rows, {"pattern": model.linkage.pattern,
                      "match_on": list(model.linkage.match_on),
                      "nodes": joined.summary.to_pylist()}
