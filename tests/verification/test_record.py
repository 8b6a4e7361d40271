"""record_verification: a node's report is checked, stored, and replaced by its next one."""

from __future__ import annotations

import sqlite3

import pytest

from coordinator.errors import CoordinatorError
from coordinator.store import TaskStore
from coordinator.verification import record_verification
from tests.verification.helpers import T0, TASK, add_linkage_task, as_bytes, report, row


@pytest.fixture
def store(tmp_path):
    with TaskStore(tmp_path / "coordinator.db") as opened:
        add_linkage_task(opened)
        yield opened


def test_a_report_is_stored_and_the_next_one_replaces_it(store):
    record_verification(store, "gd", as_bytes(report("gd", [row("open", 12, "5000.00")])),
                        now=T0 + 200)
    later = report("gd", [row("open", 1, "800"), row("confirmed", 9, "4000.00", "3900.5", "100"),
                          row("partly", 1, "300", "100", reason="policy_allows"),
                          row("excluded", 1, "200", reason="registry_lag")],
                   reported_at="2025-02-03T08:00:00+00:00")
    record_verification(store, "gd", as_bytes(later), now=T0 + 300)
    [stored] = store.verifications(TASK)
    assert (stored.node_id, stored.reported_at, stored.received_at) == (
        "gd", "2025-02-03T08:00:00+00:00", T0 + 300)
    assert [(r["outcome"], r["reason"], r["cases"]) for r in stored.report["rows"]] == [
        ("open", None, 1), ("confirmed", None, 9), ("partly", "policy_allows", 1),
        ("excluded", "registry_lag", 1)]
    assert stored.report["rows"][1]["confirmed_amount"] == "3900.5"


def test_reports_survive_reopening_the_store(tmp_path):
    path = tmp_path / "coordinator.db"
    with TaskStore(path) as store:
        add_linkage_task(store)
        record_verification(store, "gx", as_bytes(report("gx", [row("open", 4)])))
    with TaskStore(path) as store:
        assert [r.node_id for r in store.verifications(TASK)] == ["gx"]


def test_a_schema_2_store_is_migrated_to_the_linkage_tables(tmp_path):
    path = tmp_path / "coordinator.db"
    with TaskStore(path) as store:
        add_linkage_task(store)
    con = sqlite3.connect(path)
    for table in ("verification_reports", "returns", "key_envelopes"):
        con.execute(f"DROP TABLE {table}")
    con.execute("UPDATE meta SET value = 2 WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with TaskStore(path) as store:
        assert store.task(TASK) is not None
        record_verification(store, "hn", as_bytes(report("hn", [row("open", 1)])))
        assert len(store.verifications(TASK)) == 1


#: Reports a node may not send, each with the words its refusal must contain.
BAD_REPORTS = {
    "not JSON": (b"{not json", "not JSON"),
    "a list": (b"[]", "must be an object"),
    "an extra field": (as_bytes(report("gd", [row("open", 1)], names=["张三"])),
                       "must be an object with exactly"),
    "a missing field": (as_bytes({k: v for k, v in report("gd", []).items() if k != "leads"}),
                        "must be an object with exactly"),
    "another node": (as_bytes(report("gx", [row("open", 1)])), "came from node gd"),
    "negative leads": (as_bytes(report("gd", [], leads=-1)), "leads must be a non-negative"),
    "boolean cases": (as_bytes(report("gd", [], cases=True)), "cases must be a non-negative"),
    "a float count": (as_bytes(report("gd", [row("open", 1.0)], cases=1)),
                      "row 1: cases must be a non-negative"),
    "a number amount": (as_bytes(report("gd", [row("open", 1) | {"amount_at_stake": 12.5}])),
                        "amount_at_stake must be a non-negative decimal"),
    "a negative amount": (as_bytes(report("gd", [row("confirmed", 1, confirmed="-3")])),
                          "confirmed_amount must be a non-negative decimal"),
    "an exponent amount": (as_bytes(report("gd", [row("open", 1, "1E+5")])),
                           "amount_at_stake must be"),
    "an unknown outcome": (as_bytes(report("gd", [row("dismissed", 1)])),
                           "outcome must be one of"),
    "an excluded row without reason": (as_bytes(report("gd", [row("excluded", 1)])),
                                       "needs a reason"),
    "an unknown reason": (as_bytes(report("gd", [row("excluded", 1, reason="tired")])),
                          "needs a reason"),
    "a reason on a confirmed row": (
        as_bytes(report("gd", [row("confirmed", 1, reason="data_error")])),
        "confirmed rows give no reason"),
    "an unknown reason on a partly row": (
        as_bytes(report("gd", [row("partly", 1, reason="tired")])),
        "partly confirmed row's reason is one of"),
    "a repeated row": (as_bytes(report("gd", [row("open", 1), row("open", 2)])),
                       "repeats outcome open"),
    "case detail in a row": (as_bytes(report("gd", [row("open", 1) | {"subject_id": "x"}])),
                             "not allowed subject_id"),
    "rows that do not add up": (as_bytes(report("gd", [row("open", 3)], cases=4)),
                                "add up to 3 cases, not the 4"),
    "more cases than leads": (as_bytes(report("gd", [row("open", 13)], leads=12)),
                              "13 cases from 12 leads"),
    "a bad time": (as_bytes(report("gd", [], reported_at="yesterday")),
                   "reported_at must be an ISO 8601 time"),
    "too large": (b" " * 70_000 + as_bytes(report("gd", [])), "more than the"),
}


@pytest.mark.parametrize("name", BAD_REPORTS)
def test_a_malformed_report_is_refused_and_nothing_is_stored(store, name):
    body, words = BAD_REPORTS[name]
    with pytest.raises(CoordinatorError, match=words) as refused:
        record_verification(store, "gd", body)
    assert refused.value.code == "BAD_REPORT"
    assert store.verifications(TASK) == []


def test_a_report_of_an_unknown_task_is_not_found(store):
    with pytest.raises(CoordinatorError, match="no task t-gone") as refused:
        record_verification(store, "gd", as_bytes(report("gd", [], task_id="t-gone")))
    assert refused.value.code == "NOT_FOUND"


def test_only_a_target_that_answered_a_linkage_task_may_report(tmp_path):
    with TaskStore(tmp_path / "coordinator.db") as store:
        add_linkage_task(store)
        add_linkage_task(store, "t-agg", output_kind="aggregate", linkage=False)
        store.add_task(task_id="t-open", analysis_id="pension.paid_after_death",
                       analysis_version="1.0.0", analysis_digest="cd" * 32,
                       output_kind="flags", submitted_by="hq-lead", signed_task=b"s",
                       targets=["gd"], deadline=T0 + 3600, submitted_at=T0)
        cases = [
            ("zj", TASK, "not a target of task t-link"),
            ("gd", "t-agg", "is not a linkage task"),
            ("gd", "t-open", "is pending, not done"),
        ]
        for node, task_id, words in cases:
            with pytest.raises(CoordinatorError, match=words) as refused:
                record_verification(store, node, as_bytes(report(node, [], task_id=task_id,
                                                                 leads=0)))
            assert refused.value.code == "BAD_REPORT"
        assert store.verifications(TASK) == [] and store.verifications("t-agg") == []
