"""A report built from a node's real case store, the way the node daemon sends it, is
accepted and summed: the node's outcome rows and the coordinator's checks agree."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa

from coordinator.store import TaskStore
from coordinator.verification import record_verification, verification_summary
from node.cases import CaseStore
from tests.verification.helpers import TASK, add_linkage_task


def _lines() -> pa.Table:
    """A resolve output: four people, one of them with two payment lines."""
    tokens = ["a" * 64, "b" * 64, "b" * 64, "c" * 64, "d" * 64]
    return pa.table({
        "token": tokens,
        "subject_id": [f"44010319500101{n:03d}X" for n in range(5)],
        "subject_name": ["甲", "乙", "乙", "丙", "丁"],
        "amount": pa.array([Decimal(v) for v in ("1000.00", "300.00", "300.00", "250.50",
                                                 "80.00")], pa.decimal128(18, 2)),
    })


def test_outcome_rows_of_a_real_case_store_make_a_valid_report(tmp_path):
    cases = CaseStore(tmp_path / "cases.sqlite")
    assert cases.open_cases(TASK, "pension.paid_after_death", "死亡人员冒领养老金", _lines(),
                            leads=12) == 4
    by_token = {c.token[0]: c.case_id for c in cases.cases(TASK)}
    cases.resolve(by_token["a"], "confirmed", recovered_amount="400", resolved_by="auditor")
    cases.resolve(by_token["b"], "partly", reason="policy_allows", confirmed_amount="300",
                  resolved_by="auditor")
    cases.resolve(by_token["c"], "excluded", reason="registry_lag", resolved_by="auditor")
    body = {"task_id": TASK, "node_id": "gd", "reported_at": "2025-02-01T08:00:00+00:00",
            "leads": 12, "cases": 4, "rows": cases.outcome_rows(TASK)}
    cases.close()
    with TaskStore(tmp_path / "coordinator.db") as store:
        add_linkage_task(store)
        record_verification(store, "gd", json.dumps(body, sort_keys=True).encode())
        gd = verification_summary(store, TASK)["nodes"][0]
    assert (gd["node_id"], gd["cases"], gd["open"], gd["confirmed"], gd["partly"],
            gd["excluded"]) == ("gd", 4, 1, 1, 1, 1)
    assert gd["precision"] == round(2 / 3, 4)
    assert (gd["amount_at_stake"], gd["confirmed_amount"], gd["recovered_amount"]) == (
        "1930.50", "1300.00", "400.00")
    assert gd["excluded_by_reason"]["registry_lag"] == 1
