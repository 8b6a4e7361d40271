"""The two UNE-01 models on a synthetic federation, measured against its ground truth.

The truth file UNE-01.csv covers both models; it is split by its reason codes:
benefit_while_employed must find exactly the EMPLOYED and RECEIVING_PENSION anomalies,
benefit_after_death exactly the DECEASED ones, and neither may flag a look-alike
(FINAL_MONTH_CONTRIBUTION, FLEXIBLE_EMPLOYMENT) nor the other model's cases.

As in tests/linkage_models/test_truth.py, each node's CSV files are ingested into a node
data directory (IDs normalised, id_status set as at a real node), the node SQL runs in the
node's sandbox (`node.executor.execute`), its output passes the node's disclosure engine
(padding with dummy tokens), the join runs in SQL (`analyses._fixtures_linkage.link`) and the
resolve SQL runs at every province (`node.executor.execute_resolve`). For the local model
every province draws a task key of its own.
"""

from __future__ import annotations

import csv
import random
import secrets
from collections import defaultdict
from decimal import Decimal

import pytest

from analyses import load_model
from analyses._fixtures_linkage import link
from analyses.synth import generate_federation
from node.catalog import Catalog
from node.disclosure import apply_disclosure
from node.executor import execute, execute_resolve
from node.ingest import ingest_file
from node.policy import Policy
from tests.linkage_models.conftest import model_folder
from tests.linkage_models.test_truth import FEDERATION, REGISTRY_NODE

DATASETS = {"province": ("benefit_payment", "contribution"), "registry": ("death_record",)}
WHILE_EMPLOYED = "unemployment.benefit_while_employed"
AFTER_DEATH = "unemployment.benefit_after_death"
#: The UNE-01 truth, split by reason code between the two models.
REASONS = {WHILE_EMPLOYED: {"EMPLOYED", "RECEIVING_PENSION"}, AFTER_DEATH: {"DECEASED"}}

#: Generating and ingesting a federation takes several seconds.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def federation(tmp_path_factory) -> dict:
    """The generated federation, each node's datasets ingested; snapshot paths per node."""
    root = tmp_path_factory.mktemp("unemployment-truth")
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
    params = model.bind_parameters({})
    levels = {node: level for node, level in fed["levels"].items() if level in model.levels}
    shared = secrets.token_bytes(32)
    keys = {node: shared if model.linkage.shares_key else secrets.token_bytes(32)
            for node in levels}
    real, released = {}, {}
    for node, level in levels.items():
        real[node] = execute(model, level, params, fed["snapshots"][node], Policy(),
                             task_key=keys[node])
        released[node] = apply_disclosure(model, real[node], Policy().disclosure,
                                          rng=random.Random(node)).table
        assert released[node].num_rows >= real[node].num_rows
    returned, _ = link(model, released, levels)
    assert set(returned) == {n for n, level in levels.items() if level == "province"}
    lines = defaultdict(list)
    for node, table in returned.items():
        assert set(table["token"].to_pylist()) <= set(released[node]["token"].to_pylist())
        resolved = execute_resolve(model, "province", params, fed["snapshots"][node], Policy(),
                                   keys[node], table)
        assert set(resolved["token"].to_pylist()) <= set(real[node]["token"].to_pylist())
        for row in resolved.to_pylist():
            lines[(node, row["subject_id"])].append(row)
    return lines


def truth_rows(fed: dict) -> list[dict]:
    with open(fed["out"] / "truth" / "UNE-01.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def check_cases(fed: dict, model_id: str) -> tuple[dict, dict]:
    """Asserts recall 1.0, no look-alike or other-model case flagged, and the amounts;
    returns (found lines, anomaly rows), both by (node, ID number)."""
    anomalies, others = defaultdict(list), set()
    for row in truth_rows(fed):
        key = (row["node_id"], row["id_no"])
        if row["label"] == "anomaly" and row["reason"] in REASONS[model_id]:
            anomalies[key].append(row)
        else:
            others.add(key)
    others -= set(anomalies)
    assert len(anomalies) >= 3 and len(others) >= 3, "the federation should plant both"
    found = run_model(fed, model_id)
    missed = set(anomalies) - set(found)
    assert not missed, f"{model_id} missed planted cases: {sorted(missed)}"
    flagged = set(found) & others
    assert not flagged, f"{model_id} flagged look-alikes or the other model's cases: " \
                        f"{sorted(flagged)}"
    extra = set(found) - set(anomalies)
    assert not extra, f"{model_id} flagged persons that are neither: {sorted(extra)}"
    for key, rows in anomalies.items():
        got = sum(line["amount"] for line in found[key])
        assert got == sum(Decimal(r["amount"]) for r in rows), (model_id, key)
    print(f"{model_id}: {len(anomalies)} planted cases found, {len(others)} others left alone")
    return found, anomalies


def test_benefit_while_employed(federation):
    found, anomalies = check_cases(federation, WHILE_EMPLOYED)
    lookalikes = {row["reason"] for row in truth_rows(federation) if row["label"] == "lookalike"}
    assert lookalikes == {"FINAL_MONTH_CONTRIBUTION", "FLEXIBLE_EMPLOYMENT"}
    for key, rows in anomalies.items():
        lines = found[key]
        assert len({line["period"] for line in lines}) == len(lines)
        assert len(lines) == sum(int(r["months"]) for r in rows), key
        assert {line["reason"] for line in lines} == {r["reason"] for r in rows}, key
        assert str(min(line["period"] for line in lines)) == min(r["first_period"] for r in rows)
        assert str(max(line["period"] for line in lines)) == max(r["last_period"] for r in rows)
        assert all(line["month_of_spell"] > 1 for line in lines
                   if line["reason"] == "EMPLOYED")


def test_benefit_after_death(federation):
    found, anomalies = check_cases(federation, AFTER_DEATH)
    for key, rows in anomalies.items():
        lines = found[key]
        assert {line["months_overpaid"] for line in lines} == {int(rows[0]["months"])}, key
        assert {str(line["first_period"]) for line in lines} == {rows[0]["first_period"]}
        assert {str(line["last_period"]) for line in lines} == {rows[0]["last_period"]}
        assert all(line["period"] > line["death_date"] for line in lines)
