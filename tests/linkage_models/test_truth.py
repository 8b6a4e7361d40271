"""The three linkage models on a synthetic federation, measured against its ground truth.

Each province's and the death register's CSV files are ingested into node data
directories (so IDs are normalised and get their id_status as at a real node), the node
SQL runs in each node's sandbox (`node.executor.execute`) with ``fa_token`` under a fresh
random task key, the blind join runs in SQL (`analyses._fixtures_linkage.link`), and the resolve
SQL runs at every receiving province (`node.executor.execute_resolve`); see
`tests.model_support.run_model`. The
set of (node, ID number) with case lines must equal the planted anomalies of the truth
files: recall 1.0, and no look-alike flagged. Amounts, PEN-01's priority and MED-01's
settlements must match the truth too.
"""

from __future__ import annotations

from decimal import Decimal

from tests.model_support import DEATHS, check_cases, federation_fixture

federation = federation_fixture("linkage-truth", ("benefit_payment", "med_settlement"),
                                {DEATHS: ("death_record",)})


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
