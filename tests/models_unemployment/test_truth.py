"""The two UNE-01 models on a synthetic federation, measured against its ground truth.

The truth file UNE-01.csv covers both models; it is split by its reason codes:
benefit_while_employed must find exactly the EMPLOYED and RECEIVING_PENSION anomalies,
benefit_after_death exactly the DECEASED ones, and neither may flag a look-alike
(FINAL_MONTH_CONTRIBUTION, FLEXIBLE_EMPLOYMENT) nor the other model's cases.

As in tests/linkage_models/test_truth.py (`tests.model_support.run_model`), each node's CSV
files are ingested into a node data directory (IDs normalised, id_status set as at a real
node), the node SQL runs in the node's sandbox (`node.executor.execute`), its output passes
the node's disclosure engine (padding with dummy tokens), the join runs in SQL
(`analyses._fixtures_linkage.link`) and the resolve SQL runs at every province
(`node.executor.execute_resolve`). For the local model every province draws a task key of
its own.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.model_support import (
    DEATHS,
    assert_cases,
    federation_fixture,
    run_model,
    truth_rows,
)

WHILE_EMPLOYED = "unemployment.benefit_while_employed"
AFTER_DEATH = "unemployment.benefit_after_death"
#: The UNE-01 truth, split by reason code between the two models.
REASONS = {WHILE_EMPLOYED: {"EMPLOYED", "RECEIVING_PENSION"}, AFTER_DEATH: {"DECEASED"}}

#: Generating and ingesting a federation takes several seconds.
pytestmark = pytest.mark.slow

federation = federation_fixture("unemployment-truth", ("benefit_payment", "contribution"),
                                {DEATHS: ("death_record",)})


def check_cases(fed, model_id: str) -> tuple[dict, dict]:
    """Asserts recall 1.0, no look-alike or other-model case flagged, and the amounts;
    returns (found lines, anomaly rows), both by (node, ID number)."""
    anomalies, others = defaultdict(list), set()
    for row in truth_rows(fed.out, "UNE-01"):
        key = (row["node_id"], row["id_no"])
        if row["label"] == "anomaly" and row["reason"] in REASONS[model_id]:
            anomalies[key].append(row)
        else:
            others.add(key)
    others -= set(anomalies)
    found = run_model(fed, model_id, disclose=True)
    assert_cases(found, anomalies, others, model_id)
    return found, anomalies


def test_benefit_while_employed(federation):
    found, anomalies = check_cases(federation, WHILE_EMPLOYED)
    lookalikes = {row["reason"] for row in truth_rows(federation.out, "UNE-01")
                  if row["label"] == "lookalike"}
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
