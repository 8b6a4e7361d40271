"""The three linkage models on a synthetic federation, measured against its ground truth.

Each province's and the death register's CSV files are ingested into node data
directories (so IDs are normalised and get their id_status as at a real node), the node
SQL runs in each node's sandbox (`node.executor.execute`) with ``fa_token`` under a fresh
random task key, the blind join runs in SQL (`analyses._fixtures_linkage.link`), and the resolve
SQL runs at every receiving province (`node.executor.execute_resolve`). The
set of (node, ID number) with case lines must equal the planted anomalies of the truth
files: recall 1.0, and no look-alike flagged. Amounts, PEN-01's priority and MED-01's
settlements must match the truth too.
"""

from __future__ import annotations

import csv
import secrets
from collections import defaultdict
from decimal import Decimal

import pytest

from analyses import load_model
from analyses._fixtures_linkage import link
from analyses.synth import generate_federation
from node.catalog import Catalog
from node.executor import execute, execute_resolve
from node.ingest import ingest_file
from node.policy import Policy
from tests.linkage_models.conftest import model_folder

#: Three provinces, so that pensions are drawn in two of them; fixed seed and small scale.
FEDERATION = {"provinces": 3, "scale": 1e-6, "seed": 7}
REGISTRY_NODE = "deaths"
DATASETS = {"province": ("benefit_payment", "med_settlement"), "registry": ("death_record",)}
TRUTH = {"pension.paid_after_death": "PEN-01", "pension.cross_province_duplicate": "PEN-03",
         "medical.settlement_after_death": "MED-01"}


@pytest.fixture(scope="module")
def federation(tmp_path_factory) -> dict:
    """The generated federation, each node's datasets ingested; snapshot paths per node."""
    root = tmp_path_factory.mktemp("linkage-truth")
    out = root / "fed"
    summary = generate_federation(out, **FEDERATION)
    levels = {node: "province" for node in sorted(summary.persons)} | {REGISTRY_NODE: "registry"}
    snapshots = {}
    for node, level in levels.items():
        data_dir = root / "nodes" / node
        for dataset in DATASETS[level]:
            ingest_file(data_dir, dataset, out / node / f"{dataset}.csv")
        catalog = Catalog.load(data_dir)
        snapshots[node] = {ds: catalog.path_of(catalog.current(ds)) for ds in DATASETS[level]}
    return {"out": out, "levels": levels, "snapshots": snapshots}


def run_model(fed: dict, model_id: str) -> dict[tuple[str, str], list[dict]]:
    """The case lines of every province, by (node, ID number), as the nodes would open them."""
    model = load_model(model_folder(model_id))
    key = secrets.token_bytes(32)
    params = model.bind_parameters({})
    levels = {node: level for node, level in fed["levels"].items() if level in model.levels}
    outputs = {node: execute(model, level, params, fed["snapshots"][node], Policy(),
                             task_key=key)
               for node, level in levels.items()}
    returned, _ = link(model, outputs, levels)
    assert set(returned) == {n for n, level in levels.items() if level == "province"}
    lines = defaultdict(list)
    for node, table in returned.items():
        assert set(table["token"].to_pylist()) <= set(outputs[node]["token"].to_pylist())
        resolved = execute_resolve(model, "province", params, fed["snapshots"][node], Policy(),
                                   key, table)
        for row in resolved.to_pylist():
            lines[(node, row["subject_id"])].append(row)
    return lines


def truth(fed: dict, model_id: str, label: str) -> dict[tuple[str, str], list[dict]]:
    """Rows of the model's truth file with `label`, by (node, ID number)."""
    rows = defaultdict(list)
    with open(fed["out"] / "truth" / f"{TRUTH[model_id]}.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["label"] == label:
                rows[(row["node_id"], row["id_no"])].append(row)
    return rows


def check_cases(fed: dict, model_id: str) -> tuple[dict, dict]:
    """Asserts recall 1.0 and no look-alike flagged; returns (found lines, anomaly rows)."""
    found = run_model(fed, model_id)
    anomalies, lookalikes = truth(fed, model_id, "anomaly"), truth(fed, model_id, "lookalike")
    assert len(anomalies) >= 3 and len(lookalikes) >= 3, "the federation should plant both"
    missed = set(anomalies) - set(found)
    assert not missed, f"{model_id} missed planted cases: {sorted(missed)}"
    flagged = set(found) & set(lookalikes)
    assert not flagged, f"{model_id} flagged look-alikes: {sorted(flagged)}"
    extra = set(found) - set(anomalies)
    assert not extra, f"{model_id} flagged persons that are neither: {sorted(extra)}"
    print(f"{model_id}: {len(anomalies)} planted cases found, {len(lookalikes)} look-alikes "
          "left alone")
    for key, rows in anomalies.items():
        got = sum(line["amount"] for line in found[key])
        assert got == sum(Decimal(r["amount"]) for r in rows), (model_id, key)
    return found, anomalies


def test_paid_after_death(federation):
    found, anomalies = check_cases(federation, "pension.paid_after_death")
    for key, rows in anomalies.items():
        lines = found[key]
        assert {line["priority"] for line in lines} == {rows[0]["priority"]}, key
        assert {line["months_overpaid"] for line in lines} == {int(rows[0]["months"])}, key
        assert all(line["period"] > line["death_date"] for line in lines)
        assert {line["benefit_item"] for line in lines} <= {"0101", "0102", "0103"}


def test_cross_province_duplicate(federation):
    found, anomalies = check_cases(federation, "pension.cross_province_duplicate")
    for key, rows in anomalies.items():
        periods = {line["period"] for line in found[key]}
        assert len(periods) == sum(int(r["months"]) for r in rows), key
        assert all(line["other_nodes"] >= 1 for line in found[key])


def test_settlement_after_death(federation):
    found, anomalies = check_cases(federation, "medical.settlement_after_death")
    for key, rows in anomalies.items():
        got = {line["setl_id"]: line["amount"] for line in found[key]}
        assert got == {r["setl_id"]: Decimal(r["amount"]) for r in rows}, key
        assert all(line["begin_date"] > line["death_date"] for line in found[key])
