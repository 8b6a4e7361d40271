"""Hand-built results and provenance for the findings tests, shaped as the coordinator
makes them (coordinator.service and coordinator.combine)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from coordinator.findings import NodePlace

#: The provinces and a registry of the tests, as a roster would place them.
PLACES = {
    "gd": NodePlace("gd", "province", "440000"),
    "gx": NodePlace("gx", "province", "450000"),
    "hn": NodePlace("hn", "province", "460000"),
    "xj": NodePlace("xj", "province", "650000"),
    "deaths": NodePlace("deaths", "registry", "100000"),
}


def provenance(model=None, *, task_id: str = "t-1", kind: str = "aggregate",
               nodes: list[dict] | None = None, **extra) -> dict:
    """A provenance like coordinator.service._combine writes, for `model` or a made-up one."""
    analysis = {"id": "x.unknown", "version": "1.0.0", "title_zh": "未知模型",
                "title_en": "Unknown model", "kind": kind}
    if model is not None:
        analysis = {"id": model.id, "version": model.version, "digest": model.digest,
                    "title_zh": model.title_zh, "title_en": model.title_en,
                    "kind": model.kind}
    if nodes is None:
        nodes = [{"node_id": "gd", "state": "done", "rows": 4},
                 {"node_id": "gx", "state": "done", "rows": 4}]
    return {"task_id": task_id, "analysis": analysis, "state": "complete", "rows": 0,
            "submitted_by": "hq-lead", "combined_at": "2025-01-31T00:00:00+00:00",
            "nodes": nodes, "notes": "", **extra}


def per_region_table(rows: list[tuple], *, marked: bool = True) -> pa.Table:
    """A per-region aggregate: (region, scheme, period, persons, amount[, lower_bound])."""
    columns = {
        "region": pa.array([r[0] for r in rows], pa.string()),
        "scheme_code": pa.array([r[1] for r in rows], pa.string()),
        "period": pa.array([dt.date.fromisoformat(r[2]) for r in rows], pa.date32()),
        "persons": pa.array([r[3] for r in rows], pa.int64()),
        "amount": pa.array([None if r[4] is None else Decimal(r[4]) for r in rows],
                           pa.decimal128(38, 2)),
    }
    if marked:
        columns["suppressed_parts"] = pa.array([int(r[5]) if len(r) > 5 else 0 for r in rows],
                                               pa.int32())
        columns["lower_bound"] = pa.array([bool(r[5]) if len(r) > 5 else False for r in rows],
                                          pa.bool_())
    return pa.table(columns)
