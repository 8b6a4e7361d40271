"""A linkage task in a real task store, finished with a provenance like the coordinator's
combine step writes (coordinator.service `_combine`), and node reports built from it."""

from __future__ import annotations

import json

from coordinator.findings import NodePlace
from coordinator.store import TaskStore

T0 = 1_700_000_000
TASK = "t-link"
#: The targets: a death register (the registry) and three provinces.
TARGETS = ["deaths", "gd", "gx", "hn"]
#: Distinct matched tokens per node, as the blind join's summary gives them.
MATCHED = {"deaths": 30, "gd": 12, "gx": 10, "hn": 8}
PLACES = {
    "gd": NodePlace("gd", "province", "440000"),
    "gx": NodePlace("gx", "province", "450000"),
    "hn": NodePlace("hn", "province", "460000"),
    "deaths": NodePlace("deaths", "registry", "100000"),
}


def add_linkage_task(store: TaskStore, task_id: str = TASK, *, finish: bool = True,
                     output_kind: str = "flags", linkage: bool = True) -> None:
    """Adds a task of every target, each answering `done`, and finishes it with the
    provenance of a registry_attributes linkage (unless `finish` or `linkage` is False)."""
    store.add_task(task_id=task_id, analysis_id="pension.paid_after_death",
                   analysis_version="1.0.0", analysis_digest="cd" * 32,
                   output_kind=output_kind, submitted_by="hq-lead",
                   signed_task=f"signed:{task_id}".encode(), targets=TARGETS,
                   deadline=T0 + 3600, submitted_at=T0)
    for node in TARGETS:
        store.record_report(task_id, node, "done", rows=MATCHED[node] + 5,
                            partial_path=f"/results/{task_id}/{node}", receipt=b"{}",
                            receipt_signature=b"\x01" * 64, snapshots=[], disclosure={},
                            now=T0 + 60)
    if not finish:
        return
    provenance = {
        "task_id": task_id,
        "analysis": {"id": "pension.paid_after_death", "version": "1.0.0",
                     "digest": "cd" * 32, "title_zh": "死亡人员冒领养老金",
                     "title_en": "Pension paid after death", "kind": output_kind},
        "state": "complete", "rows": 3, "submitted_by": "hq-lead", "parameters": {},
        "combined_at": "2025-01-31T00:00:00+00:00",
        "nodes": [{"node_id": n, "state": "done", "rows": MATCHED[n] + 5} for n in TARGETS],
        "notes": "",
    }
    if linkage:
        provenance["linkage"] = {
            "pattern": "registry_attributes", "match_on": [],
            "nodes": [{"node_id": n, "level": "registry" if n == "deaths" else "province",
                       "tokens_submitted": MATCHED[n] + 5, "matched": MATCHED[n]}
                      for n in TARGETS]}
    store.finish_task(task_id, "complete", f"/results/{task_id}/result.parquet", provenance,
                      now=T0 + 120)


def row(outcome: str, cases: int, stake: str = "0", confirmed: str = "0",
        recovered: str = "0", reason: str | None = None) -> dict:
    """One outcome row as a node sends it."""
    return {"outcome": outcome, "reason": reason, "cases": cases, "amount_at_stake": stake,
            "confirmed_amount": confirmed, "recovered_amount": recovered}


def report(node: str, rows: list[dict], *, leads: int | None = None, task_id: str = TASK,
           reported_at: str = "2025-02-01T08:00:00+00:00", **changes) -> dict:
    """A node's verification report; cases add up the rows unless `changes` say otherwise."""
    body = {"task_id": task_id, "node_id": node,
            "leads": MATCHED.get(node, 0) if leads is None else leads,
            "cases": sum(r["cases"] for r in rows), "rows": rows, "reported_at": reported_at}
    body.update(changes)
    return body


def as_bytes(body: dict) -> bytes:
    return json.dumps(body).encode()
