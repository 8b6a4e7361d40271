"""The node daemon: dials out to the coordinator, verifies and runs each delivered task,
and reports back. It has no inbound port.

Every delivery goes through the same pipeline as `check-task`, but for real (see
`node.runner.Runner`): the task id is consumed, each decision is logged before it takes
effect, and every outcome is stored in the outbox before it is sent, so a lost
connection never makes a task run twice: the stored report is sent again instead.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
from collections.abc import Iterator

import grpc

from analyses.tasks import SignedTask, TaskFileError
from node.errors import NodeError, Refusal
from node.home import NodeHome
from node.outbox import Outbox
from node.runner import Runner
from proto import fedaudit_pb2 as pb
from proto import fedaudit_pb2_grpc as rpc

log = logging.getLogger("fedaudit.node")
CHUNK_BYTES = 4 * 1024 * 1024 - 64 * 1024  # under 4 MiB with the message framing
SOFTWARE_VERSION = "0.1.0"
BACKOFF_START, BACKOFF_MAX = 0.5, 30.0
DECISION_POLL_SECONDS = 1.0
#: Errors after which a report is sent again once the node has reconnected.
_TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
              grpc.StatusCode.CANCELLED)


class NodeDaemon:
    def __init__(self, home: NodeHome, address: str | None = None) -> None:
        self.home = home
        self.runner = Runner(home)
        self.kit = self.runner.kit
        self.outbox: Outbox = self.runner.outbox
        self.address = address or self.kit.coordinator
        self._stop = threading.Event()
        self._call = None

    # -- connection --------------------------------------------------------------------

    def run(self) -> None:
        """Serves deliveries until stop() is called, reconnecting with backoff."""
        from certs import channel_credentials

        delay = BACKOFF_START
        self.runner.audit.append("node.started", coordinator=self.address)
        while not self._stop.is_set():
            channel = grpc.secure_channel(self.address, channel_credentials(self.kit), options=[
                ("grpc.max_send_message_length", 8 * 1024 * 1024),
                ("grpc.keepalive_time_ms", 20_000),
            ])
            self._erase_expired_keys()
            try:
                stub = rpc.NodeServiceStub(channel)
                self._hello(stub)
                log.info("connected", extra={"coordinator": self.address})
                delay = BACKOFF_START
                self._call = stub.Subscribe(pb.SubscribeRequest(node_id=self.kit.party_id))
                connected = threading.Event()
                threading.Thread(target=self._send_decisions, args=(stub, connected),
                                 name="decisions", daemon=True).start()
                try:
                    for delivery in self._call:
                        if delivery.return_ready:
                            self.handle_return(stub, delivery.return_ready)
                        else:
                            self.handle(stub, delivery.task, delivery.key_envelope)
                finally:
                    connected.set()
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    break
                log.warning("connection lost", extra={"code": exc.code().name,
                                                      "details": exc.details(), "retry_in": delay})
            finally:
                channel.close()
            self._stop.wait(delay * (0.5 + random.random()))
            delay = min(delay * 2, BACKOFF_MAX)
        self.runner.audit.append("node.stopped")

    def _erase_expired_keys(self) -> None:
        """Erases task keys whose verification period ended (node policy, [linkage])."""
        import time

        from node.taskkeys import KeyStore

        for task_id in KeyStore(self.home.path).erase_expired(time.time()):
            self.runner.audit.append("task.key_erased", task_id=task_id)

    def stop(self) -> None:
        self._stop.set()
        if self._call is not None:
            self._call.cancel()

    def _hello(self, stub) -> None:
        from dataclasses import asdict

        stub.Hello(pb.HelloRequest(
            node_id=self.kit.party_id, catalog=self._catalog_summary(),
            library_digest=self.runner.library.digest, software_version=SOFTWARE_VERSION,
            policy_json=json.dumps(asdict(self.runner.policy), sort_keys=True),
        ), timeout=30)

    def _catalog_summary(self) -> list[pb.DatasetSummary]:
        from node.catalog import Catalog

        out = []
        for rec in Catalog.load(self.home.data_dir).snapshots():
            if rec.current:
                out.append(pb.DatasetSummary(
                    dataset=rec.dataset, snapshot_id=rec.snapshot_id, rows=rec.rows,
                    period_min=str(rec.period_min or ""), period_max=str(rec.period_max or ""),
                    data_as_of=str(rec.data_as_of or "")))
        return out

    # -- one delivery ------------------------------------------------------------------

    def handle(self, stub, message, key_envelope: bytes = b"") -> None:
        """Verifies, runs and reports one delivered task. Never raises for the task's
        own faults: those become REFUSED or FAILED reports.

        The outbox decides what a repeated delivery means: a report the coordinator
        acknowledged makes it a replay (refused REPLAYED); a report not yet
        acknowledged is sent again; a task accepted but never finished (the node
        stopped while running it) is reported FAILED. A task never runs twice.
        """
        task = SignedTask.from_proto(message)
        try:
            task_id = task.spec.task_id
        except TaskFileError:
            log.warning("undecodable delivery ignored")
            return
        if self.outbox.acknowledged(task_id):
            refusal = Refusal("REPLAYED", f"task {task_id} already ran here and its result "
                                          "was delivered")
            self.runner.audit.append("task.refused", task_id=task_id, code=refusal.code,
                                     reason=refusal.reason)
            self._send_refusal(stub, task_id, refusal)
            return
        if not self.outbox.has_report(task_id):
            def publish(envelopes) -> None:
                stub.PublishKeys(pb.KeyEnvelopes(task_id=task_id, envelopes=[
                    json.dumps(e.to_dict()).encode() for e in envelopes]), timeout=60)

            try:
                self.runner.execute(self.runner.accept(
                    task, key_envelope=key_envelope or None, publish_keys=publish))
            except Refusal as refusal:
                if not self.outbox.has_report(task_id):
                    self._send_refusal(stub, task_id, refusal)
                    return
        self._send_stored(stub, task_id)

    def handle_return(self, stub, task_id: str) -> None:
        """Fetches, checks and resolves the node's return of a linkage task, then reports
        the verification state. A refused return (a foreign token, say) is reported as
        refused, with the reason; its cases never open."""
        from node.arrow_stream import read_ipc
        from node.linkage import LinkageFolder, process_return

        if not LinkageFolder(self.home.path).processed(task_id):
            header, chunks = {}, []
            for chunk in stub.FetchReturn(pb.TaskRef(task_id=task_id), timeout=600):
                if chunk.WhichOneof("body") == "header_json":
                    header = json.loads(chunk.header_json)
                else:
                    chunks.append(chunk.arrow_chunk)
            try:
                table = read_ipc(chunks, expected_digest=header.get("digest"))
                process_return(self.home, task_id, table)
            except NodeError as exc:
                log.warning("return refused", extra={"task_id": task_id, "reason": str(exc)})
                self._send_verification(stub, task_id, refused=str(exc))
                return
        self._send_verification(stub, task_id)

    def _send_verification(self, stub, task_id: str, refused: str | None = None) -> None:
        from node.cases import CaseError, CaseStore

        report = {"task_id": task_id, "node_id": self.kit.party_id,
                  "reported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        if refused is not None:
            report["refused"] = refused
        else:
            # Leads, cases and outcomes all come from the case store, which opened them in
            # one transaction: a report never mixes two states of the task.
            with CaseStore.at_home(self.home) as store:
                try:
                    opened = store.task(task_id)
                except CaseError:
                    return  # nothing opened yet: the report follows when the cases are
                report.update(leads=opened.leads or 0, cases=opened.cases,
                              rows=store.outcome_rows(task_id))
        stub.ReportVerification(pb.VerificationReport(
            task_id=task_id, json=json.dumps(report, sort_keys=True).encode()), timeout=60)

    def _send_decisions(self, stub, disconnected: threading.Event) -> None:
        """Sends outputs the operator released (or withheld), and case outcomes that
        changed, while connected."""
        from node.cases import CaseStore

        with CaseStore.at_home(self.home) as cases:
            ticks = 0
            while not disconnected.wait(DECISION_POLL_SECONDS):
                ticks += 1
                if ticks % 600 == 0:
                    self._erase_expired_keys()
                try:
                    self._send_pending(stub, cases)
                except grpc.RpcError as exc:
                    log.warning("could not send a decision", extra={"code": exc.code().name})
                    return
                except Exception:  # keep the sender alive; the next tick tries again
                    log.exception("the decision and outcome sender failed")

    def _send_pending(self, stub, cases) -> None:
        """Sends decided outputs, then the case outcomes that changed since last sent.

        Raises grpc.RpcError when a decision cannot be sent or the connection is gone."""
        for task_id in self.outbox.decided_unsent():
            self._send_stored(stub, task_id)
        for task_id, version in cases.unsent():
            try:
                self._send_verification(stub, task_id)
            except grpc.RpcError as exc:
                log.warning("could not send case outcomes", extra={
                    "task_id": task_id, "code": exc.code().name, "details": exc.details()})
                if exc.code() in _TRANSIENT:
                    raise  # the connection is gone: sent again after reconnecting
                # Refused as it is: not sent again until the cases change.
            cases.mark_sent(task_id, version)

    def _send_refusal(self, stub, task_id: str, refusal: Refusal) -> None:
        """Refusals are not stored: a refused task consumed nothing and may come again."""
        self._send(stub, pb.ReportHeader(task_id=task_id, status=pb.REFUSED,
                                         refusal_code=refusal.code, message=refusal.reason))

    def _send_stored(self, stub, task_id: str) -> None:
        """Sends the stored report (and output); marks it acknowledged once stored."""
        report = self.outbox.report(task_id)
        if report["status"] == "held":
            # Not acknowledged: the operator's decision is sent when it is made.
            self._send(stub, pb.ReportHeader(
                task_id=task_id, status=pb.HELD,
                message="held at the node for its operator's manual release"))
            return
        if report["status"] == "failed":
            self._send(stub, pb.ReportHeader(task_id=task_id, status=pb.FAILED,
                                             message=report["message"]))
        else:
            body, signature = self.outbox.receipt(task_id)

            def messages() -> Iterator[pb.ReportMessage]:
                yield pb.ReportMessage(header=pb.ReportHeader(task_id=task_id, status=pb.DONE))
                with open(self.outbox.output_path(task_id), "rb") as fh:
                    while chunk := fh.read(CHUNK_BYTES):
                        yield pb.ReportMessage(arrow_chunk=chunk)
                yield pb.ReportMessage(receipt=pb.Receipt(body=body, signature=signature))

            stub.Report(messages(), timeout=600)
            self.runner.audit.append("task.released", task_id=task_id,
                                     output_digest=json.loads(body)["output_digest"])
        self.outbox.acknowledge(task_id)

    def _send(self, stub, header: pb.ReportHeader) -> None:
        stub.Report(iter([pb.ReportMessage(header=header)]), timeout=60)
