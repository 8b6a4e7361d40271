"""MED-02, its cross-province variant and MED-04 on a synthetic federation, measured against
its ground truth.

Each province's med_settlement.csv is ingested into a node data folder (IDs normalised, with
their id_status, as at a real node); the node SQL runs in each node's sandbox under a fresh
random task key, the coordinator's part runs in SQL (`analyses._fixtures_linkage.link`: each node's
own tokens back for the local models, the (token, night) intersection for the variant) and
the resolve SQL runs at every province (`tests.model_support.run_model`). The set
of (node, ID number) with case lines must equal the truth's anomalies, no look-alike may be
flagged, and the lines must carry the truth's settlements and amounts.

truth/MED-02.csv holds both models' cases, told apart by reason: OVERLAPPING_STAYS and
SAME_DAY_TRANSFER inside one province (MED-02), CROSS_PROVINCE and CROSS_PROVINCE_TRANSFER
across two (MED-02b, one row per province). Each model must find its own and leave the
other's alone. A second copy of the federation also moves the second stay of every
within-province pair (anomalies and same-day-transfer look-alikes) to the next province:
the variant must then flag every moved anomaly in both provinces and no look-alike, and
the within-province model must flag none of them.
"""

from __future__ import annotations

import csv
import secrets
from decimal import Decimal
from pathlib import Path

import pytest

from node.disclosure import apply_disclosure
from node.executor import execute
from node.policy import DisclosurePolicy, Policy
from tests.model_support import (
    assert_cases,
    federation_fixture,
    ingest_federation,
    load,
    read_csv,
    run_model,
    truth,
)
from tests.models_medical.conftest import MEDICAL_MODELS

DATASET = "med_settlement"
OVERLAP, CROSS, SPLIT = MEDICAL_MODELS
#: The reasons of truth/MED-02.csv that lie inside one province, and across two.
WITHIN = ("OVERLAPPING_STAYS", "SAME_DAY_TRANSFER")
ACROSS = ("CROSS_PROVINCE", "CROSS_PROVINCE_TRANSFER")

#: The three provinces of `tests.model_support.FEDERATION`, their settlements ingested.
federation = federation_fixture("med-truth", (DATASET,))


@pytest.fixture(scope="module")
def world(federation) -> Path:
    """The folder of the generated federation."""
    assert len(federation.levels) == 3
    return federation.out


def med02(world: Path, label: str, reasons) -> dict:
    """The MED-02 truth rows with `label` and one of `reasons`, by (node, ID number)."""
    rows = truth(world, "MED-02", label)
    return {key: found for key, found in ((k, [r for r in v if r["reason"] in reasons])
                                          for k, v in rows.items()) if found}


def test_overlapping_stays(world, federation):
    found = run_model(federation, OVERLAP)
    anomalies = med02(world, "anomaly", WITHIN)
    # Stays in two provinces are not this model's: each province holds one of them.
    left_alone = {**med02(world, "lookalike", WITHIN + ACROSS),
                  **med02(world, "anomaly", ACROSS)}
    assert_cases(found, anomalies, left_alone, OVERLAP)  # the amounts too
    for key, rows in anomalies.items():
        lines = found[key]
        assert {line["setl_id"] for line in lines} == {
            s for r in rows for s in (r["setl_id_a"], r["setl_id_b"])}, key
        assert {line["overlap_days"] for line in lines} == {int(rows[0]["overlap_days"])}, key
        assert {str(line["overlap_start"]) for line in lines} == {rows[0]["overlap_start"]}
        assert all(line["overlapping_stays"] == 1 for line in lines)


def test_split_hospitalisation(world, federation):
    found = run_model(federation, SPLIT)
    anomalies, lookalikes = truth(world, "MED-04", "anomaly"), truth(world, "MED-04", "lookalike")
    assert_cases(found, anomalies, lookalikes, SPLIT)
    for key, rows in anomalies.items():
        lines = {line["setl_id"]: line for line in found[key]}
        assert set(lines) == {r["setl_id"] for r in rows}, key
        for r in rows:
            line = lines[r["setl_id"]]
            assert line["amount"] == Decimal(r["amount"]), key
            assert line["prev_setl_id"] == r["prev_setl_id"], key
            assert line["gap_days"] == int(r["gap_days"]), key
            assert line["main_diag_code"] == r["main_diag_code"], key
    reasons = {r["reason"] for rows in lookalikes.values() for r in rows}
    assert {"CHEMOTHERAPY", "DIALYSIS", "DIFFERENT_DIAGNOSIS"} <= reasons


def test_cross_province_variant_finds_the_planted_cross_province_stays(world, federation):
    """Every CROSS_PROVINCE row is a case in its province with that province's own stay and
    fund payment; no transfer look-alike and nothing inside one province is flagged."""
    found = run_model(federation, CROSS)
    anomalies = med02(world, "anomaly", ("CROSS_PROVINCE",))
    left_alone = {**med02(world, "lookalike", WITHIN + ACROSS),
                  **med02(world, "anomaly", WITHIN)}
    assert_cases(found, anomalies, left_alone, CROSS)  # the amounts too
    for key, rows in anomalies.items():
        assert [line["setl_id"] for line in found[key]] == [rows[0]["setl_id_a"]], key
        assert found[key][0]["overlap_days"] == int(rows[0]["overlap_days"]), key
        assert found[key][0]["other_nodes"] == 1, key


@pytest.mark.parametrize("model_id", MEDICAL_MODELS)
def test_node_outputs_pass_the_disclosure_engine(federation, model_id):
    """What each province would release passes its default policy: declared columns only,
    tokens padded, never an ID number."""
    model = load(model_id)
    key = secrets.token_bytes(32)
    for snapshots in federation.snapshots.values():
        table = execute(model, "province", model.bind_parameters({}), snapshots, Policy(),
                        task_key=key)
        assert table.num_rows > 0 and table.column("token").null_count == 0
        released = apply_disclosure(model, table, DisclosurePolicy()).table
        assert released.column_names == list(model.output.names)
        assert released.num_rows >= table.num_rows


@pytest.fixture(scope="module")
def moved(world, tmp_path_factory) -> dict:
    """A copy of the federation where the second stay of every MED-02 pair lies in the next
    province (sorted cyclically); returns the ingested federation and what was moved."""
    folder = tmp_path_factory.mktemp("med-moved")
    provinces = sorted(p.parent.name for p in world.glob(f"*/{DATASET}.csv"))
    following = dict(zip(provinces, provinces[1:] + provinces[:1], strict=True))
    rows = {node: read_csv(world / node / f"{DATASET}.csv") for node in provinces}
    pairs = [r for r in read_csv(world / "truth" / "MED-02.csv") if r["reason"] in WITHIN]
    second = {r["setl_id_b"]: following[r["node_id"]] for r in pairs}
    moved_rows = {node: [] for node in provinces}
    kept = {}
    for node, table in rows.items():
        kept[node] = [r for r in table if r["setl_id"] not in second]
        for r in table:
            if r["setl_id"] in second:
                moved_rows[second[r["setl_id"]]].append(r)
    paths = {}
    for node in provinces:
        paths[node] = folder / f"{node}.csv"
        with open(paths[node], "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[node][0]))
            writer.writeheader()
            writer.writerows(kept[node] + moved_rows[node])
    fund = {r["setl_id"]: Decimal(r["fund_pay_sumamt"]) for table in rows.values() for r in table}
    assert sum(len(v) for v in moved_rows.values()) == len(pairs)
    fed = ingest_federation(folder / "nodes",
                            {node: {DATASET: path} for node, path in paths.items()})
    planted = [r for r in read_csv(world / "truth" / "MED-02.csv") if r["reason"] in ACROSS]
    return {"fed": fed, "pairs": pairs, "following": following, "fund": fund,
            "planted": planted}


def test_cross_province_variant_finds_every_moved_pair(moved):
    found = run_model(moved["fed"], CROSS)
    # The planted cross-province cases are still there, untouched.
    expected = {(r["node_id"], r["id_no"]): r["setl_id_a"] for r in moved["planted"]
                if r["label"] == "anomaly"}
    lookalikes = {(r["node_id"], r["id_no"]) for r in moved["planted"]
                  if r["label"] == "lookalike"}
    for r in moved["pairs"]:
        here, there = (r["node_id"], r["id_no"]), (moved["following"][r["node_id"]], r["id_no"])
        if r["label"] == "anomaly":
            expected[here], expected[there] = r["setl_id_a"], r["setl_id_b"]
        else:
            lookalikes |= {here, there}
    assert len(expected) >= 6 and len(lookalikes) >= 6
    assert set(found) == set(expected), "recall 1.0 and nothing else"
    assert not set(found) & lookalikes
    for key, setl_id in expected.items():
        lines = found[key]
        assert [line["setl_id"] for line in lines] == [setl_id], key
        assert lines[0]["amount"] == moved["fund"][setl_id], key
        assert lines[0]["other_nodes"] == 1
    for r in moved["pairs"]:
        if r["label"] == "anomaly":
            node, other = r["node_id"], moved["following"][r["node_id"]]
            both = found[(node, r["id_no"])] + found[(other, r["id_no"])]
            assert sum(line["amount"] for line in both) == Decimal(r["amount"])
            assert {line["overlap_days"] for line in both} == {int(r["overlap_days"])}


def test_within_province_model_leaves_moved_pairs_alone(moved):
    assert run_model(moved["fed"], OVERLAP) == {}
