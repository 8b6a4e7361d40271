"""SA-01 (assistance.household_assets) on a synthetic federation, measured against its truth.

As in tests/linkage_models/test_truth.py, each node's CSV files are ingested into a node
data directory (IDs normalised, id_status set as at a real node). The three registry nodes
(vehicles, realestate, business) each hold some of the registry datasets only, so each runs
the registry SQL with the others read as empty tables, exactly as `node.executor` does for
a model with ``registry_datasets = "any"``. Every output passes the node's disclosure
engine (padding with dummy tokens), the blind join runs in SQL
(`analyses._fixtures_linkage.link`) and the resolve SQL runs at every province
(`node.executor.execute_resolve`). The truth file SA-01.csv is per household: the set of
(node, case_id) with case lines must equal its anomalies (recall 1.0, no look-alike
flagged), and each case's amount and tallies must match.
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
from tests.linkage_models.test_truth import FEDERATION

MODEL = "assistance.household_assets"
#: The registry nodes of the synthetic federation that hold asset registers, with them.
REGISTRIES = {"vehicles": ("vehicle_registration",), "realestate": ("real_estate_right",),
              "business": ("business_entity", "business_person")}
PROVINCE_DATASETS = ("assistance_member", "assistance_payment")
LOOKALIKES = {"EXEMPT_VEHICLE", "CANCELLED_VEHICLE", "ONE_DWELLING", "CANCELLED_BUSINESS",
              "NON_MEMBER_RELATIVE"}

#: Generating and ingesting a federation takes several seconds.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def federation(tmp_path_factory) -> dict:
    """The generated federation, each node's datasets ingested; snapshot paths per node."""
    root = tmp_path_factory.mktemp("assistance-truth")
    out = root / "fed"
    summary = generate_federation(out, **FEDERATION)
    datasets = {node: PROVINCE_DATASETS for node in sorted(summary.persons)} | REGISTRIES
    levels = {node: "province" for node in sorted(summary.persons)} | \
        {node: "registry" for node in REGISTRIES}
    snapshots = {}
    for node, names in datasets.items():
        data_dir = root / "nodes" / node
        for dataset in names:
            ingest_file(data_dir, dataset, out / node / f"{dataset}.csv")
        catalog = Catalog.load(data_dir)
        snapshots[node] = {ds: catalog.path_of(catalog.current(ds)) for ds in names}
    return {"out": out, "levels": levels, "snapshots": snapshots}


def run_model(fed: dict) -> dict[tuple[str, str], list[dict]]:
    """The case lines of every province, by (node, case_id), as the nodes would open them."""
    model = load_model(model_folder(MODEL))
    params = model.bind_parameters({})
    key = secrets.token_bytes(32)
    real, released = {}, {}
    for node, level in fed["levels"].items():
        real[node] = execute(model, level, params, fed["snapshots"][node], Policy(),
                             task_key=key)
        released[node] = apply_disclosure(model, real[node], Policy().disclosure,
                                          rng=random.Random(node)).table
    returned, summary = link(model, released, fed["levels"])
    assert set(returned) == {n for n, level in fed["levels"].items() if level == "province"}
    matched = dict(zip(summary["node_id"].to_pylist(), summary["matched"].to_pylist(),
                       strict=True))
    assert all(matched[node] > 0 for node in REGISTRIES), matched
    lines = defaultdict(list)
    for node, table in returned.items():
        assert set(table["token"].to_pylist()) <= set(real[node]["token"].to_pylist())
        resolved = execute_resolve(model, "province", params, fed["snapshots"][node], Policy(),
                                   key, table)
        for row in resolved.to_pylist():
            lines[(node, row["subject_id"])].append(row)
    return lines


def truth_rows(fed: dict) -> list[dict]:
    with open(fed["out"] / "truth" / "SA-01.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_each_registry_node_holds_only_some_registers(federation):
    model = load_model(model_folder(MODEL))
    assert model.linkage.registry_datasets == "any"
    for node, names in REGISTRIES.items():
        assert set(federation["snapshots"][node]) == set(names)
        assert set(names) < set(model.datasets["registry"])


def test_household_assets_against_the_truth(federation):
    rows = truth_rows(federation)
    anomalies = {(r["node_id"], r["case_id"]): r for r in rows if r["label"] == "anomaly"}
    lookalikes = {(r["node_id"], r["case_id"]) for r in rows if r["label"] == "lookalike"}
    lookalikes -= set(anomalies)
    assert len(anomalies) >= 3 and len(lookalikes) >= 5, "the federation should plant both"
    assert {r["reason"] for r in rows if r["label"] == "lookalike"} == LOOKALIKES
    assert {r["reason"] for r in anomalies.values()} == {"CAR", "HOUSES", "BUSINESS"}
    found = run_model(federation)
    missed = set(anomalies) - set(found)
    assert not missed, f"{MODEL} missed planted households: {sorted(missed)}"
    flagged = set(found) & lookalikes
    assert not flagged, f"{MODEL} flagged look-alikes: {sorted(flagged)}"
    extra = set(found) - set(anomalies)
    assert not extra, f"{MODEL} flagged households that are neither: {sorted(extra)}"
    for key, row in anomalies.items():
        lines = found[key]
        assert sum(line["amount"] for line in lines) == Decimal(row["amount"]), key
        assert len({line["token"] for line in lines}) == 1, key
        for column in ("cars", "house_units", "businesses"):
            assert {line[column] for line in lines} == {int(row[column])}, (key, column)
        assert {line["admdvs"] for line in lines} == {row["admdvs"]}, key
        assert {line["case_program"] for line in lines} == {row["program"]}, key
        assert {line["reasons"] for line in lines} == {row["reason"]}, key
    tokens = [lines[0]["token"] for lines in found.values()]
    assert len(tokens) == len(set(tokens)), "each household opens its own case"
    print(f"{MODEL}: {len(anomalies)} planted households found, {len(lookalikes)} "
          "look-alikes left alone")
