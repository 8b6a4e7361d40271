"""The coordinator's domain logic: accept tasks, hand them to nodes, take reports,
combine results. The gRPC servicers only translate to and from these calls."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from analyses.tasks import SignedTask, TaskFileError, decode_parameters, is_target, signing_message
from coordinator._linkage_service import LinkageDuties
from coordinator.errors import CoordinatorError
from coordinator.home import CoordinatorHome

log = logging.getLogger("fedaudit.coordinator")
#: The largest output one node may send for one task (its Arrow IPC stream).
MAX_OUTPUT_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Outgoing:
    """One message on a node's delivery stream: a task (with its key envelope for a
    linkage task), or the id of a linkage task whose return is ready."""

    signed_task: bytes = b""
    key_envelope: bytes = b""
    return_ready: str = ""


@dataclass(frozen=True)
class Report:
    """What a node says about one task; `chunks` are the Arrow IPC pieces for DONE."""

    task_id: str
    status: str  # done | refused | failed
    refusal_code: str = ""
    message: str = ""


class Coordinator(LinkageDuties):
    def __init__(self, home: CoordinatorHome) -> None:
        from analyses import load_library
        from coordinator.store import TaskStore

        self.home = home
        self.roster = home.kit.roster()
        self.library = load_library()
        self.store = TaskStore(home.store_path)
        self.store.disconnect_all()  # streams of a previous run are gone
        self._work = threading.Condition()
        #: Set when a task may be ready to combine before its deadline.
        self.combine_due = threading.Event()
        #: task id -> key originator of linkage tasks ("" for other tasks).
        self._originators: dict[str, str] = {}

    def close(self) -> None:
        self.store.close()

    @functools.cached_property
    def sharing(self):
        """Results as owned objects: classification, grants, re-share requests, and every
        read of a result checked against them and logged (coordinator.sharing_service)."""
        from coordinator.sharing_service import Sharing

        return Sharing(self)

    # -- people ------------------------------------------------------------------------

    def submit(
        self,
        task: SignedTask,
        submitted_by: str,
        now: float | None = None,
        allow_expired: bool = False,
    ):
        """Checks a signed task (early, clear errors; the nodes decide) and queues one
        delivery per target. Raises CoordinatorError with a stable code."""
        now = now or time.time()
        try:
            task.check_view()
            spec = task.spec
            decode_parameters(spec)
        except TaskFileError as exc:
            raise CoordinatorError(str(exc), "BAD_SIGNATURE") from exc
        self._check_signatures(task)
        if spec.federation != self.roster.federation:
            raise CoordinatorError(
                f"the task is for federation {spec.federation!r}, this "
                f"coordinator serves {self.roster.federation!r}",
                "INVALID_REQUEST",
            )
        try:
            model = self.library.get(spec.analysis_id)
        except Exception as exc:
            raise CoordinatorError(
                f"{spec.analysis_id} is not in the library", "UNKNOWN_ANALYSIS"
            ) from exc
        if (model.version, model.digest) != (spec.analysis_version, spec.analysis_digest):
            raise CoordinatorError(
                f"the library's {model.id}@{model.version} differs from the one the task names",
                "DIGEST_MISMATCH",
            )
        deadline = int(spec.expires_at.ToSeconds())
        if deadline <= now and not allow_expired:
            raise CoordinatorError("the task has already expired", "EXPIRED")
        targets = self.resolve_targets(spec.targets)
        if model.linkage is not None and model.linkage.shares_key:
            self._check_linkage_targets(model, spec.key_originator, targets)
        if model.builds_on is not None:
            self._check_prior(model, spec, targets)
        from coordinator.store import DuplicateTask

        try:
            self.store.add_task(
                task_id=spec.task_id,
                analysis_id=spec.analysis_id,
                analysis_version=spec.analysis_version,
                analysis_digest=spec.analysis_digest,
                output_kind=spec.output_kind,
                submitted_by=submitted_by,
                signed_task=task.to_proto().SerializeToString(),
                targets=targets,
                deadline=deadline,
                submitted_at=int(now),
            )
        except DuplicateTask as exc:
            raise CoordinatorError(
                f"task {spec.task_id} was already submitted", "DUPLICATE_TASK"
            ) from exc
        log.info(
            "task submitted",
            extra={"task_id": spec.task_id, "by": submitted_by, "targets": targets},
        )
        with self._work:
            self._work.notify_all()
        return self.store.task(spec.task_id)

    def import_bundle(self, header_json: bytes, chunks: Iterable[bytes], imported_by: str):
        """Adds an air-gapped node's result: its task (if new) and its signed output.

        The task's signatures and the node's receipt are checked as for online results;
        a bundle may arrive after the task expired, so expiry alone does not refuse it."""
        from analyses.tasks import task_from_dict

        try:
            header = json.loads(header_json)
            task = task_from_dict(header["task"], source="bundle")
            node_id = header["node_id"]
            receipt = (
                header["receipt"]["body"].encode(),
                bytes.fromhex(header["receipt"]["signature"]),
            )
        except (ValueError, KeyError, TypeError, TaskFileError) as exc:
            raise CoordinatorError(f"not a result bundle ({exc})", "BAD_REPORT") from exc
        task_id = task.spec.task_id
        if self.store.task(task_id) is None:
            self.submit(task, imported_by, allow_expired=True)
        self.report(node_id, Report(task_id, "done"), chunks, receipt)
        return self.status(task_id)

    def _check_signatures(self, task: SignedTask) -> None:
        from certs import BadSignature, key_id, verify_signature

        if not task.signatures:
            raise CoordinatorError(
                "the task is not signed: sign it with `fedaudit task sign`", "BAD_SIGNATURE"
            )
        keys = {key_id(p.ed25519): p for p in self.roster.issuers() if p.ed25519}
        message = signing_message(task.spec_bytes)
        for sig in task.signatures:
            issuer = keys.get(sig.key_id)
            if issuer is None:
                raise CoordinatorError(
                    f"key {sig.key_id} is not an issuer of this federation", "UNKNOWN_ISSUER"
                )
            try:
                verify_signature(issuer.ed25519, sig.signature, message)
            except BadSignature as exc:
                raise CoordinatorError(
                    f"the signature of {issuer.id} does not match the task: "
                    "it was changed after signing",
                    "BAD_SIGNATURE",
                ) from exc

    def resolve_targets(self, targets) -> list[str]:
        nodes = self.roster.nodes()
        known = {n.id for n in nodes}
        unknown = [n for n in targets.node_ids if n not in known]
        if unknown:
            raise CoordinatorError(f"no node {', '.join(unknown)} in the roster", "UNKNOWN_NODE")
        chosen = [
            n.id
            for n in nodes
            if is_target(targets, node_id=n.id, level=n.level, region=n.region, datasets=n.datasets)
        ]
        if not chosen:
            raise CoordinatorError("the task's targets match no node in the roster", "UNKNOWN_NODE")
        return chosen

    def status(self, task_id: str):
        record = self.store.task(task_id)
        if record is None:
            raise CoordinatorError(f"no task {task_id}", "NOT_FOUND")
        return record

    def watch(self, task_id: str, is_active) -> Iterator:
        """Yields the task's record at once and after every change, until it is final."""
        version = -1
        while is_active():
            record = self.status(task_id)
            if record.version != version:
                version = record.version
                yield record
                if record.state != "running":
                    return
            self.store.wait_for_change(task_id, version, timeout=1.0)

    # -- nodes -------------------------------------------------------------------------

    def hello(
        self,
        node_id: str,
        catalog: list[dict],
        library_digest: str,
        software_version: str,
        policy_json: str,
    ) -> None:
        self._require_node(node_id)
        self.store.record_hello(
            node_id, catalog, library_digest, software_version, policy_json, int(time.time())
        )
        if library_digest != self.library.digest:
            log.warning("node library differs", extra={"node_id": node_id})

    def deliveries(self, node_id: str, is_active) -> Iterator[Outgoing]:
        """Yields what the node must hear: every open delivery it has not reported on at
        once, then new ones as they are submitted, and every linkage return waiting for it.

        A linkage task reaches a node other than its key originator only together with
        the key envelope the originator published for it."""
        self._require_node(node_id)
        self.store.set_connected(node_id, True)
        sent: set[str] = set()
        try:
            while is_active():
                for task_id, signed in self.store.pending_for(node_id):
                    if task_id in sent:
                        continue
                    envelope = b""
                    originator = self._key_originator(task_id, signed)
                    if originator and originator != node_id:
                        envelope = self.store.envelope(task_id, node_id)
                        if envelope is None:
                            continue  # waits for the originator's envelope
                    sent.add(task_id)
                    self.store.mark_delivered(task_id, node_id)
                    yield Outgoing(signed_task=signed, key_envelope=envelope)
                for task_id in self.store.returns_ready(node_id):
                    if ("return", task_id) not in sent:
                        sent.add(("return", task_id))
                        yield Outgoing(return_ready=task_id)
                self.store.mark_seen(node_id, int(time.time()))
                with self._work:
                    self._work.wait(timeout=1.0)
        finally:
            self.store.set_connected(node_id, False)

    def report(
        self,
        node_id: str,
        report: Report,
        chunks: Iterable[bytes] | None = None,
        receipt: tuple[bytes, bytes] | None = None,
    ) -> None:
        """Stores a node's report. For DONE, `chunks` is consumed into the partial file
        and `receipt()` (called after the chunks) must verify against the roster."""
        from coordinator.store import StoreError

        record = self.status(report.task_id)
        delivery = record.delivery(node_id)
        if delivery is None:
            raise CoordinatorError(
                f"{node_id} is not a target of task {report.task_id}", "FORBIDDEN"
            )
        if delivery.state not in ("pending", "delivered", "held"):
            if delivery.state == report.status:
                return  # the same report again (the node resent it): already stored
            raise CoordinatorError(
                f"{node_id} already reported {delivery.state} for task {report.task_id}",
                "BAD_REPORT",
            )
        try:
            if report.status != "done":
                self.store.record_report(
                    report.task_id,
                    node_id,
                    report.status,
                    refusal_code=report.refusal_code or None,
                    message=report.message or None,
                )
            else:
                self._store_output(node_id, report, chunks, receipt)
        except StoreError as exc:
            raise CoordinatorError(str(exc), "BAD_REPORT") from exc
        if report.status in ("refused", "failed"):
            self._originator_gave_up(report.task_id, node_id)
        if self.store.task(report.task_id).settled:
            self.combine_due.set()  # the last node answered: combine now, not at the next tick

    def _store_output(self, node_id, report, chunks, receipt) -> None:
        from coordinator.results import write_partial

        path, rows, digest = write_partial(
            self.home.path, report.task_id, node_id, chunks or (), max_bytes=MAX_OUTPUT_BYTES
        )
        body = self._verify_receipt(node_id, report.task_id, digest, receipt)
        self.store.record_report(
            report.task_id,
            node_id,
            "done",
            rows=rows,
            partial_path=str(path),
            receipt=receipt[0],
            receipt_signature=receipt[1],
            snapshots=[
                {"dataset": name, "snapshot_id": snap}
                for name, snap in sorted((body.get("snapshots") or {}).items())
            ],
            disclosure=body.get("disclosure"),
        )

    def _verify_receipt(self, node_id, task_id, digest, receipt) -> dict:
        from node.receipt import verify_receipt

        if receipt is None:
            raise CoordinatorError("a DONE report must end with the node's receipt", "BAD_REPORT")
        party = self.roster.party(node_id)
        try:
            body = verify_receipt(receipt[0], receipt[1], party.ed25519)
        except Exception as exc:
            raise CoordinatorError(
                f"the receipt of {node_id} does not verify", "BAD_REPORT"
            ) from exc
        if body.get("task_id") != task_id or body.get("node_id") != node_id:
            raise CoordinatorError("the receipt names another task or node", "BAD_REPORT")
        if body.get("output_digest") != digest:
            raise CoordinatorError("the output does not match the receipt's digest", "BAD_REPORT")
        return body

    def _require_node(self, node_id: str) -> None:
        party = self.roster.party(node_id)
        if party is None or party.role != "node":
            raise CoordinatorError(f"{node_id} is not a node of this federation", "FORBIDDEN")

    def nodes(self):
        return self.store.nodes()

    # -- combining ---------------------------------------------------------------------

    def combine_ready(self, now: float | None = None) -> list[str]:
        """Combines every task whose nodes all answered or whose deadline passed."""
        finished = []
        for task_id in self.store.ready_to_combine(int(now or time.time())):
            self.store.mark_missing(task_id)
            try:
                self._combine(task_id)
            except Exception as exc:
                log.exception("combine failed", extra={"task_id": task_id})
                self.store.finish_task(
                    task_id, "failed", None, {"error": str(exc)}, message=f"combine failed: {exc}"
                )
            finished.append(task_id)
        return finished

    def _combine(self, task_id: str) -> None:
        from coordinator.combine import combine
        from coordinator.results import result_dir, write_provenance

        record = self.store.task(task_id)
        signed = SignedTask.from_bytes(record.signed_task)
        spec = signed.spec
        model = self.library.get(spec.analysis_id)
        done = {d.node_id: d.partial_path for d in record.deliveries if d.state == "done"}
        out = result_dir(self.home.path, task_id) / "result.parquet"
        rows = None
        linkage = None
        if done and model.linkage is not None:
            params = model.bind_parameters(decode_parameters(spec))
            rows, linkage = self._combine_linkage(task_id, model, done, params, out)
        elif done:
            params = model.bind_parameters(decode_parameters(spec))
            dimensions = [c.name for c in model.output.columns if c.role == "dimension"]
            rows = combine(model.sql["combine"], done, out, params,
                           dimensions=dimensions if model.kind == "aggregate" else ())
        state = (
            "complete" if len(done) == len(record.deliveries) else "partial" if done else "failed"
        )
        provenance = {
            "task_id": task_id,
            "analysis": {
                "id": model.id,
                "version": model.version,
                "digest": model.digest,
                "title_zh": model.title_zh,
                "title_en": model.title_en,
                "kind": model.kind,
            },
            "state": state,
            "rows": rows,
            "submitted_by": record.submitted_by,
            "parameters": {k: str(v) for k, v in decode_parameters(spec).items()},
            "combined_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "nodes": [_node_provenance(d) for d in record.deliveries],
            "notes": model.notes.strip(),
        }
        if linkage is not None:
            provenance["linkage"] = linkage
        write_provenance(self.home.path, task_id, provenance)
        self.store.finish_task(task_id, state, str(out) if done else None, provenance)
        log.info("task combined", extra={"task_id": task_id, "state": state})


def _node_provenance(delivery) -> dict:
    import base64

    entry = {"node_id": delivery.node_id, "state": delivery.state}
    if delivery.state == "refused":
        entry["refusal_code"] = delivery.refusal_code
    if delivery.message:
        entry["message"] = delivery.message
    if delivery.state == "done":
        entry.update(
            rows=delivery.rows,
            snapshots={s["dataset"]: s["snapshot_id"] for s in delivery.snapshots or ()},
            disclosure=delivery.disclosure,
            receipt=base64.b64encode(delivery.receipt).decode(),
            receipt_signature=base64.b64encode(delivery.receipt_signature).decode(),
        )
    return entry



def provenance_json(provenance: dict) -> bytes:
    return json.dumps(provenance, ensure_ascii=False, sort_keys=True).encode()
