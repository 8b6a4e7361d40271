"""Helpers of the sharing tests: a real coordinator home with finished results, and grants.

A result is made the way the coordinator makes one, minus the network: a task signed by
a real issuer kit is submitted to a real Coordinator, every target's delivery is reported
done in its SQLite store, and the combined table is written as Parquet with provenance.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analyses import load_library
from analyses.tasks import add_signature, draft_task, parse_targets
from certs import load_kit
from coordinator.home import init_home
from coordinator.results import result_path, write_provenance
from coordinator.service import Coordinator
from coordinator.sharing import draft_classification, draft_grant
from proto import task_pb2

#: The sharing tests' federation (see conftest.py): nodes and their regions.
NODE_REGIONS = {"gd": "440000", "gx": "450000", "hn": "460000", "zj": "330000"}

SPEC = """\
name = "share"
coordinator = "127.0.0.1:7443"
""" + "".join(f"""[[node]]
id = "{node}"
level = "province"
region = "{region}"
""" for node, region in NODE_REGIONS.items()) + """[[issuer]]
id = "hq-lead"
roles = ["lead"]
[[issuer]]
id = "hq-analyst"
roles = ["lead"]
[[issuer]]
id = "hq-approver"
roles = ["approver"]
[[office]]
id = "office-south"
[[office]]
id = "office-north"
[[office]]
id = "office-west"
"""


def coordinator_for(federation: Path, root: Path) -> Coordinator:
    """A Coordinator on a fresh home made from the federation's coordinator kit."""
    home = init_home(federation / "coordinator", root / "coordinator-home")
    return Coordinator(home)


def sign(document, federation: Path, *signers: str):
    """The document signed by each named issuer's kit, in order."""
    for signer in signers:
        kit = load_kit(federation / signer)
        document = document.with_signature(kit.party_id, kit.signing_key())
    return document


def finished_result(coordinator: Coordinator, federation: Path, table: pa.Table, *,
                    owner: str = "hq-lead", kind: str = "aggregate",
                    targets: tuple[str, ...] = ("level=province",), finish: bool = True) -> str:
    """Submits a dq.dataset_quality task signed by ``owner`` and finishes it with ``table``.

    Returns the task id. ``kind`` is written into the signed spec, so a ``flags`` result
    can be made from the same model; ``finish=False`` leaves the task running.
    """
    model = load_library().get("dq.dataset_quality")
    task = draft_task(
        federation=coordinator.roster.federation, analysis_id=model.id,
        analysis_version=model.version, analysis_digest=model.digest, output_kind=kind,
        parameters=model.bind_parameters({"as_of": dt.date(2025, 1, 31)}),
        targets=parse_targets(targets),
        purpose=task_pb2.Purpose(project="AUD-2025-07", text="sharing tests"),
        lifetime=dt.timedelta(hours=1))
    kit = load_kit(federation / owner)
    task = add_signature(task, kit.party_id, kit.signing_key())
    record = coordinator.submit(task, owner)
    task_id = record.task_id
    if not finish:
        return task_id
    store = coordinator.store
    for delivery in record.deliveries:
        store.record_report(task_id, delivery.node_id, "done", rows=1,
                            partial_path=f"/nowhere/{delivery.node_id}",
                            receipt=b"{}", receipt_signature=b"\0" * 64)
    out = result_path(coordinator.home.path, task_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    provenance = {
        "task_id": task_id, "state": "complete", "rows": table.num_rows,
        "submitted_by": owner, "combined_at": "2025-01-31T00:00:00+00:00", "notes": "",
        "analysis": {"id": model.id, "version": model.version, "digest": model.digest,
                     "title_zh": model.title_zh, "title_en": model.title_en, "kind": kind},
        "nodes": [{"node_id": d.node_id, "state": "done", "rows": 1} for d in record.deliveries],
    }
    write_provenance(coordinator.home.path, task_id, provenance)
    store.finish_task(task_id, "complete", str(out), provenance)
    return task_id


def grant_json(kits: Path, task_id: str, *, office: str = "office-south", regions=(),
               parts: str = "aggregate", lifetime: dt.timedelta = dt.timedelta(days=30),
               signers=("hq-lead",), issued_by: str = "hq-lead", now: float | None = None,
               request_id: str = "") -> bytes:
    """A grant file's bytes, drafted for ``office`` and signed by ``signers`` (kits in
    ``kits``/<party id>)."""
    document = draft_grant(federation=load_kit(kits / signers[0]).federation, task_id=task_id,
                           office=office, purpose="regional follow-up", parts=parts,
                           regions=regions, lifetime=lifetime, issued_by=issued_by, now=now,
                           request_id=request_id)
    return sign(document, kits, *signers).to_json().encode()


def classification_json(kits: Path, task_id: str, level: str, *signers: str,
                        now: float | None = None) -> bytes:
    """A classification file's bytes, issued by the first signer."""
    document = draft_classification(federation=load_kit(kits / signers[0]).federation,
                                    task_id=task_id, level=level, issued_by=signers[0],
                                    now=now)
    return sign(document, kits, *signers).to_json().encode()


def per_node_table() -> pa.Table:
    """Rows naming their node, like dq.dataset_quality: two for each of the four nodes."""
    nodes = [n for n in NODE_REGIONS for _ in range(2)]
    return pa.table({
        "node": nodes,
        "dataset": ["benefit_payment", "person"] * len(NODE_REGIONS),
        "rows": pa.array(range(10, 10 * (len(nodes) + 1), 10), pa.int64()),
    })


def read_table(chunks) -> pa.Table | None:
    """The table of an Arrow IPC stream given in chunks, or None for no chunks."""
    data = b"".join(chunks)
    return pa.ipc.open_stream(data).read_all() if data else None
