"""SA-01 (assistance.household_assets) on a synthetic federation, measured against its truth.

As in tests/linkage_models/test_truth.py (`tests.model_support.run_model`), each node's CSV
files are ingested into a node data directory (IDs normalised, id_status set as at a real
node). The three registry nodes
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

import pytest

from tests.model_support import (
    assert_cases,
    federation_fixture,
    load,
    run_model,
    truth,
    truth_rows,
)

MODEL = "assistance.household_assets"
#: The registry nodes of the synthetic federation that hold asset registers, with them.
REGISTRIES = {"vehicles": ("vehicle_registration",), "realestate": ("real_estate_right",),
              "business": ("business_entity", "business_person")}
LOOKALIKES = {"EXEMPT_VEHICLE", "CANCELLED_VEHICLE", "ONE_DWELLING", "CANCELLED_BUSINESS",
              "NON_MEMBER_RELATIVE"}

#: Generating and ingesting a federation takes several seconds.
pytestmark = pytest.mark.slow

federation = federation_fixture("assistance-truth", ("assistance_member", "assistance_payment"),
                                REGISTRIES)


def test_each_registry_node_holds_only_some_registers(federation):
    model = load(MODEL)
    assert model.linkage.registry_datasets == "any"
    for node, names in REGISTRIES.items():
        assert set(federation.snapshots[node]) == set(names)
        assert set(names) < set(model.datasets["registry"])


def test_household_assets_against_the_truth(federation):
    rows = truth_rows(federation.out, "SA-01")
    anomalies = truth(federation.out, "SA-01", "anomaly", key="case_id")
    lookalikes = set(truth(federation.out, "SA-01", "lookalike", key="case_id")) - set(anomalies)
    assert {r["reason"] for r in rows if r["label"] == "lookalike"} == LOOKALIKES
    assert {r["reason"] for case in anomalies.values() for r in case} == {
        "CAR", "HOUSES", "BUSINESS"}
    found = run_model(federation, MODEL, disclose=True)
    # Recall 1.0, no look-alike nor anything else flagged, and each household's amount.
    assert_cases(found, anomalies, lookalikes, MODEL, min_left_alone=5)
    for key, (row,) in anomalies.items():  # the truth has one row per household
        lines = found[key]
        assert len({line["token"] for line in lines}) == 1, key
        for column in ("cars", "house_units", "businesses"):
            assert {line[column] for line in lines} == {int(row[column])}, (key, column)
        assert {line["admdvs"] for line in lines} == {row["admdvs"]}, key
        assert {line["case_program"] for line in lines} == {row["program"]}, key
        assert {line["reasons"] for line in lines} == {row["reason"]}, key
    tokens = [lines[0]["token"] for lines in found.values()]
    assert len(tokens) == len(set(tokens)), "each household opens its own case"
