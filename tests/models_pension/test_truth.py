"""The local pension models on a synthetic federation, measured against its ground truth.

As in tests/linkage_models/test_truth.py: each province's CSV files are ingested into a
node data directory (IDs normalised, id_status set as at a real node), the node SQL runs
in the node's sandbox (`node.executor.execute`) with ``fa_token`` under a task key the
province draws for itself (the local pattern: every province its own key), the return is
what the coordinator hands back for a local model (`analyses._fixtures_linkage.link`: each
province its own tokens), and the resolve SQL runs at each province
(`node.executor.execute_resolve`). The set of (node, ID number) with case lines must
equal the planted anomalies of the truth file (recall 1.0, no look-alike flagged), and
the amounts and the truth's other columns must match.
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
from tests.models_pension.conftest import PENSION_MODELS, model_folder

#: Three provinces, fixed seed and small scale, as tests/linkage_models/test_truth.py.
FEDERATION = {"provinces": 3, "scale": 1e-6, "seed": 7}
DATASETS = ("benefit_payment", "insured_person", "public_payroll")


@pytest.fixture(scope="module")
def federation(tmp_path_factory) -> dict:
    """The generated federation, each province's datasets ingested; snapshots per node."""
    root = tmp_path_factory.mktemp("pension-truth")
    out = root / "fed"
    summary = generate_federation(out, **FEDERATION)
    snapshots = {}
    for node in sorted(summary.persons):
        data_dir = root / "nodes" / node
        for dataset in DATASETS:
            ingest_file(data_dir, dataset, out / node / f"{dataset}.csv")
        catalog = Catalog.load(data_dir)
        snapshots[node] = {ds: catalog.path_of(catalog.current(ds)) for ds in DATASETS}
    return {"out": out, "snapshots": snapshots}


def run_model(fed: dict, model_id: str) -> dict[tuple[str, str], list[dict]]:
    """The case lines of every province, by (node, ID number), as the nodes open them."""
    model = load_model(model_folder(model_id))
    params = model.bind_parameters({})
    levels = {node: "province" for node in fed["snapshots"]}
    keys = {node: secrets.token_bytes(32) for node in levels}  # each province its own
    outputs = {node: execute(model, "province", params,
                             {ds: fed["snapshots"][node][ds] for ds in model.datasets["province"]},
                             Policy(), task_key=keys[node])
               for node in levels}
    returned, summary = link(model, outputs, levels)
    assert set(returned) == set(levels)
    assert summary["matched"].null_count == summary.num_rows
    lines = defaultdict(list)
    for node, table in returned.items():
        assert set(table["token"].to_pylist()) == set(outputs[node]["token"].to_pylist())
        resolved = execute_resolve(model, "province", params, fed["snapshots"][node],
                                   Policy(), keys[node], table)
        assert set(resolved["token"].to_pylist()) <= set(table["token"].to_pylist())
        for row in resolved.to_pylist():
            lines[(node, row["subject_id"])].append(row)
    return lines


def truth(fed: dict, model_id: str, label: str) -> dict[tuple[str, str], list[dict]]:
    """Rows of the model's truth file with `label`, by (node, ID number)."""
    rows = defaultdict(list)
    with open(fed["out"] / "truth" / f"{PENSION_MODELS[model_id]}.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["label"] == label:
                rows[(row["node_id"], row["id_no"])].append(row)
    return rows


def check_cases(fed: dict, model_id: str) -> tuple[dict, dict]:
    """Asserts recall 1.0, no look-alike and nothing else flagged, and equal amounts;
    returns (found lines, anomaly rows)."""
    found = run_model(fed, model_id)
    anomalies, lookalikes = truth(fed, model_id, "anomaly"), truth(fed, model_id, "lookalike")
    assert len(anomalies) >= 3 and len(lookalikes) >= 3, "the federation should plant both"
    missed = set(anomalies) - set(found)
    assert not missed, f"{model_id} missed planted cases: {sorted(missed)}"
    flagged = set(found) & set(lookalikes)
    assert not flagged, f"{model_id} flagged look-alikes: {sorted(flagged)}"
    extra = set(found) - set(anomalies)
    assert not extra, f"{model_id} flagged persons that are neither: {sorted(extra)}"
    for key, rows in anomalies.items():
        got = sum(line["amount"] for line in found[key])
        assert got == sum(Decimal(r["amount"]) for r in rows), (model_id, key)
    print(f"{model_id}: {len(anomalies)} planted cases found, {len(lookalikes)} look-alikes "
          "left alone")
    return found, anomalies


def test_dual_scheme(federation):
    found, anomalies = check_cases(federation, "pension.dual_scheme")
    for key, rows in anomalies.items():
        (row,) = rows
        lines = found[key]
        assert len(lines) == int(row["months"]), key
        assert {str(line["period"]) for line in lines} >= {row["first_period"],
                                                          row["last_period"]}
        assert {line["overlap_months"] for line in lines} == {int(row["months"])}
        assert all(line["employee_scheme"] in ("110", "120") for line in lines)
        assert all(line["amount"] > 0 and line["employee_amount"] > 0 for line in lines)


def test_payroll_staff_resident_pension(federation):
    found, anomalies = check_cases(federation, "pension.payroll_staff_resident_pension")
    for key, rows in anomalies.items():
        (row,) = rows
        lines = found[key]
        assert len(lines) == int(row["months"]), key
        assert {line["employer_code"] for line in lines} == {row["employer_code"]}
        assert {line["staffing_type"] for line in lines} == {row["staffing_type"]}
        assert min(str(line["period"]) for line in lines) == row["first_period"]
        assert max(str(line["period"]) for line in lines) == row["last_period"]


def test_early_retirement(federation):
    found, anomalies = check_cases(federation, "pension.early_retirement")
    for key, rows in anomalies.items():
        want = {(r["scheme_code"], r["reason"], r["employer_id"] or None, r["retire_type"],
                 r["retire_date"], int(r["retire_age_months"])) for r in rows}
        got = {(line["scheme_code"], line["reason"], line["employer_id"], line["retire_type"],
                str(line["retire_date"]), line["retire_age_months"]) for line in found[key]}
        assert got == want, key
        assert all(line["subject_name"] for line in found[key])
    # The employer columns count the province's flagged persons at the same employer,
    # as the truth's employer_id does (no planted case uses an invalid ID).
    per_employer = defaultdict(set)
    for (node, id_no), rows in anomalies.items():
        for r in rows:
            if r["employer_id"]:
                per_employer[(node, r["employer_id"])].add(id_no)
    for (node, id_no), lines in found.items():
        for line in lines:
            if line["employer_id"] is None:
                assert line["employer_cases"] is None
                continue
            cases = len(per_employer[(node, line["employer_id"])])
            assert line["employer_cases"] == cases, (node, id_no)
            assert line["employer_retirees"] >= cases
