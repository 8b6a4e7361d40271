"""The node's outbox: each task's report, kept until the coordinator acknowledged it.

    HOME/outbox/<task_id>/report.json    {"status": "done" | "failed", ...}
    HOME/outbox/<task_id>/output.arrows  the released output, one Arrow IPC stream (done)
    HOME/outbox/<task_id>/receipt.json   the node's signed receipt over it (done)
    HOME/outbox/<task_id>/acknowledged   present once the coordinator stored the report
    HOME/outbox/<task_id>/decided        present once the operator released or withheld a
                                         held output (the daemon then sends the decision)

A report is written completely (in a temporary folder, then renamed) before it is sent,
so a crash never leaves half an output that could be mistaken for a whole one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

REPORT, OUTPUT, RECEIPT = "report.json", "output.arrows", "receipt.json"
ACKNOWLEDGED, DECIDED = "acknowledged", "decided"
BUNDLE_FORMAT = "fedaudit-result-bundle/v1"


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(exist_ok=True)

    def entry(self, task_id: str) -> Path:
        return self.path / task_id

    def acknowledged(self, task_id: str) -> bool:
        return (self.entry(task_id) / ACKNOWLEDGED).exists()

    def has_report(self, task_id: str) -> bool:
        return (self.entry(task_id) / REPORT).exists()

    def report(self, task_id: str) -> dict:
        return json.loads((self.entry(task_id) / REPORT).read_text())

    def receipt(self, task_id: str) -> tuple[bytes, bytes]:
        stored = json.loads((self.entry(task_id) / RECEIPT).read_text())
        return stored["body"].encode(), bytes.fromhex(stored["signature"])

    def output_path(self, task_id: str) -> Path:
        return self.entry(task_id) / OUTPUT

    def acknowledge(self, task_id: str) -> None:
        (self.entry(task_id) / ACKNOWLEDGED).touch()

    def write_done(self, task_id: str, table, *, node_id: str, snapshots: dict,
                   disclosure: dict, signing_key, held: bool = False) -> str:
        """Writes output, receipt and report atomically; returns the output digest.

        With held=True the report says `held`: the output waits for the operator's
        release (`fedaudit node release`) before anything is sent."""
        from node.arrow_stream import ipc_chunks
        from node.receipt import make_receipt

        final = self.entry(task_id)
        tmp = final.with_name(f".{task_id}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        digest = hashlib.sha256()
        with open(tmp / OUTPUT, "wb") as fh:
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
        (tmp / RECEIPT).write_text(json.dumps({"body": body.decode(),
                                               "signature": signature.hex()}))
        status = "held" if held else "done"
        (tmp / REPORT).write_text(json.dumps({"status": status, "rows": table.num_rows}))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        return digest.hexdigest()

    def write_failed(self, task_id: str, message: str) -> None:
        self._write_report(task_id, {"status": "failed", "message": message})

    def _write_report(self, task_id: str, report: dict) -> None:
        final = self.entry(task_id)
        final.mkdir(parents=True, exist_ok=True)
        tmp = final / f".{REPORT}.tmp"
        tmp.write_text(json.dumps(report))
        os.replace(tmp, final / REPORT)

    def held(self) -> list[str]:
        """Task ids whose output waits for the operator's decision."""
        return sorted(p.name for p in self.path.iterdir()
                      if (p / REPORT).exists() and self.report(p.name)["status"] == "held")

    def decide(self, task_id: str, release: bool, reason: str = "") -> dict:
        """Releases a held output, or withholds it with a reason. Raises ValueError if the
        task has no held output."""
        if not self.has_report(task_id) or self.report(task_id)["status"] != "held":
            raise ValueError(f"task {task_id} has no output waiting for release; "
                             "see `fedaudit node pending`")
        report = self.report(task_id)
        if release:
            report["status"] = "done"
        else:
            report = {"status": "failed",
                      "message": f"withheld by the node's operator: {reason}"}
        self._write_report(task_id, report)
        (self.entry(task_id) / DECIDED).touch()
        return report

    def decided_unsent(self) -> list[str]:
        """Task ids released or withheld by the operator and not yet acknowledged."""
        return sorted(p.name for p in self.path.iterdir()
                      if (p / DECIDED).exists() and not (p / ACKNOWLEDGED).exists())

    def write_bundle(self, task_id: str, task_json: str, node_id: str, out: Path) -> None:
        """Packs a done task into one file to carry to HQ (an air-gapped node's result)."""
        report = self.report(task_id)
        if report["status"] != "done":
            raise ValueError(f"task {task_id} has no output to bundle ({report['status']})")
        tmp = out.with_name(f".{out.name}.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as bundle:
            bundle.writestr("bundle.json", json.dumps({"format": BUNDLE_FORMAT,
                                                       "node_id": node_id, "task_id": task_id}))
            bundle.writestr("task.json", task_json)
            bundle.write(self.entry(task_id) / RECEIPT, RECEIPT)
            bundle.write(self.output_path(task_id), OUTPUT)
        os.replace(tmp, out)
