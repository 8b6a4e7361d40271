"""The node daemon: dials out to the coordinator, verifies and runs each delivered task,
and reports back. It has no inbound port.

Every delivery goes through the same pipeline as `check-task`, but for real: the task id
is consumed, the decision is logged before it takes effect, and an accepted task's
output is written to the node's outbox (with its signed receipt) before it is sent, so a
lost connection never makes a task run twice: the stored output is sent again instead.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc

from analyses.tasks import SignedTask, TaskFileError
from node.errors import NodeError, Refusal
from node.home import NodeHome
from node.runner import identity
from node.verify import verify_task
from proto import fedaudit_pb2 as pb
from proto import fedaudit_pb2_grpc as rpc

log = logging.getLogger("fedaudit.node")
REPORT, ACKNOWLEDGED = "report.json", "acknowledged"
CHUNK_BYTES = 4 * 1024 * 1024 - 64 * 1024  # under 4 MiB with the message framing
SOFTWARE_VERSION = "0.1.0"
BACKOFF_START, BACKOFF_MAX = 0.5, 30.0


class NodeDaemon:
    def __init__(self, home: NodeHome, address: str | None = None) -> None:
        from analyses import load_library

        self.home = home
        self.kit = home.kit
        self.address = address or self.kit.coordinator
        # Refuse to start without a policy and a trust list (they raise PolicyError).
        self.policy = home.policy()
        self.trust = home.trust()
        self.library = load_library()
        self.audit = home.audit_log()
        self.outbox = home.path / "outbox"
        self.outbox.mkdir(exist_ok=True)
        self._stop = threading.Event()
        self._call = None

    # -- connection --------------------------------------------------------------------

    def run(self) -> None:
        """Serves deliveries until stop() is called, reconnecting with backoff."""
        from certs import channel_credentials

        delay = BACKOFF_START
        self.audit.append("node.started", coordinator=self.address)
        while not self._stop.is_set():
            channel = grpc.secure_channel(self.address, channel_credentials(self.kit), options=[
                ("grpc.max_send_message_length", 8 * 1024 * 1024),
                ("grpc.keepalive_time_ms", 20_000),
            ])
            try:
                stub = rpc.NodeServiceStub(channel)
                self._hello(stub)
                log.info("connected", extra={"coordinator": self.address})
                delay = BACKOFF_START
                self._call = stub.Subscribe(pb.SubscribeRequest(node_id=self.kit.party_id))
                for delivery in self._call:
                    self.handle(stub, delivery.task)
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    break
                log.warning("connection lost", extra={"code": exc.code().name,
                                                      "details": exc.details(), "retry_in": delay})
            finally:
                channel.close()
            self._stop.wait(delay * (0.5 + random.random()))
            delay = min(delay * 2, BACKOFF_MAX)
        self.audit.append("node.stopped")

    def stop(self) -> None:
        self._stop.set()
        if self._call is not None:
            self._call.cancel()

    def _hello(self, stub) -> None:
        from dataclasses import asdict

        stub.Hello(pb.HelloRequest(
            node_id=self.kit.party_id, catalog=self._catalog_summary(),
            library_digest=self.library.digest, software_version=SOFTWARE_VERSION,
            policy_json=json.dumps(asdict(self.policy), sort_keys=True),
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

    def handle(self, stub, message) -> None:
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
        stored = self.outbox / task_id
        if (stored / ACKNOWLEDGED).exists():
            self._refuse(stub, task_id, Refusal(
                "REPLAYED", f"task {task_id} already ran here and its result was delivered"))
            return
        if (stored / REPORT).exists():
            self._send_stored(stub, task_id, stored)
            return
        self.audit.append("task.received", task_id=task_id)
        try:
            accepted = self._verify(task)
        except Refusal as refusal:
            if refusal.code == "REPLAYED":  # consumed, but no report: interrupted
                self._fail(stub, task_id, stored,
                           "the node stopped while running this task; it is not run twice")
            else:
                self._refuse(stub, task_id, refusal)
            return
        self.audit.append("task.accepted", task_id=task_id, analysis=accepted.spec.analysis_id,
                          signers=list(accepted.signers))
        try:
            self._execute_to_outbox(accepted, stored)
        except NodeError as exc:
            # Only the public sentence goes to HQ: a database message can quote data.
            self._fail(stub, task_id, stored, getattr(exc, "public", None) or str(exc),
                       detail=getattr(exc, "detail", None) or str(exc))
            return
        self._send_stored(stub, task_id, stored)

    def _refuse(self, stub, task_id: str, refusal: Refusal) -> None:
        """Refusals are not stored: a refused task consumed nothing and may come again."""
        self.audit.append("task.refused", task_id=task_id, code=refusal.code,
                          reason=refusal.reason)
        self._send(stub, pb.ReportHeader(task_id=task_id, status=pb.REFUSED,
                                         refusal_code=refusal.code, message=refusal.reason))

    def _fail(self, stub, task_id: str, stored: Path, public: str, detail: str | None = None):
        self.audit.append("task.failed", task_id=task_id, reason=public, detail=detail)
        write_report(stored, {"status": "failed", "message": public})
        self._send_stored(stub, task_id, stored)

    def _verify(self, task: SignedTask):
        from node.runner import available_datasets

        with self.home.replay_store() as replay:
            return verify_task(
                task, node=identity(self.home), trust=self.trust, policy=self.policy,
                library=self.library, replay=replay,
                available_datasets=available_datasets(self.home), consume=True,
            )

    def _execute_to_outbox(self, accepted, stored: Path) -> None:
        from node.executor import execute
        from node.runner import current_snapshots

        level = self.kit.level
        snapshots = current_snapshots(self.home, accepted.model.datasets.get(level, ()))
        table = execute(accepted.model, level, accepted.parameters,
                        {name: path for name, (_, path) in snapshots.items()}, self.policy)
        write_outbox(stored, table, task_id=accepted.spec.task_id, node_id=self.kit.party_id,
                     snapshots={name: snap_id for name, (snap_id, _) in snapshots.items()},
                     disclosure={"engine": "declared-columns-only"},
                     signing_key=self.kit.signing_key())
        self.audit.append("task.executed", task_id=accepted.spec.task_id, rows=table.num_rows)

    def _send_stored(self, stub, task_id: str, stored: Path) -> None:
        """Sends the stored report (and output); marks it acknowledged once stored."""
        report = json.loads((stored / REPORT).read_text())
        if report["status"] == "failed":
            self._send(stub, pb.ReportHeader(task_id=task_id, status=pb.FAILED,
                                             message=report["message"]))
        else:
            receipt = json.loads((stored / "receipt.json").read_text())

            def messages() -> Iterator[pb.ReportMessage]:
                yield pb.ReportMessage(header=pb.ReportHeader(task_id=task_id, status=pb.DONE))
                with open(stored / "output.arrows", "rb") as fh:
                    while chunk := fh.read(CHUNK_BYTES):
                        yield pb.ReportMessage(arrow_chunk=chunk)
                yield pb.ReportMessage(receipt=pb.Receipt(
                    body=receipt["body"].encode(), signature=bytes.fromhex(receipt["signature"])))

            stub.Report(messages(), timeout=600)
            self.audit.append("task.released", task_id=task_id,
                              output_digest=json.loads(receipt["body"])["output_digest"])
        (stored / ACKNOWLEDGED).touch()

    def _send(self, stub, header: pb.ReportHeader) -> None:
        stub.Report(iter([pb.ReportMessage(header=header)]), timeout=60)


def write_outbox(stored: Path, table, *, task_id, node_id, snapshots, disclosure,
                 signing_key) -> None:
    """Writes output.arrows and receipt.json for one task, atomically (a folder rename)."""
    import os
    import shutil

    import hashlib

    from node.arrow_stream import ipc_chunks
    from node.receipt import make_receipt

    tmp = stored.with_name(f".{stored.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    digest = hashlib.sha256()
    with open(tmp / "output.arrows", "wb") as fh:
        for chunk in ipc_chunks(table, table.schema):
            digest.update(chunk)
            fh.write(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    body, signature = make_receipt(
        task_id=task_id, node_id=node_id, output_digest=digest.hexdigest(),
        rows=table.num_rows, snapshots=snapshots, disclosure=disclosure,
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        signing_key=signing_key,
    )
    (tmp / "receipt.json").write_text(json.dumps({"body": body.decode(),
                                                  "signature": signature.hex()}))
    (tmp / REPORT).write_text(json.dumps({"status": "done", "rows": table.num_rows}))
    shutil.rmtree(stored, ignore_errors=True)
    os.replace(tmp, stored)


def write_report(stored: Path, report: dict) -> None:
    """Stores a FAILED report for a task, atomically."""
    import os

    stored.mkdir(parents=True, exist_ok=True)
    tmp = stored / f".{REPORT}.tmp"
    tmp.write_text(json.dumps(report))
    os.replace(tmp, stored / REPORT)
