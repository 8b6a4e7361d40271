"""verification_summary: per node and national counts, amounts and precision, from a real
task store holding a finished linkage task and the nodes' reports."""

from __future__ import annotations

import pytest

from coordinator.errors import CoordinatorError
from coordinator.store import TaskStore
from coordinator.verification import record_verification, verification_summary
from tests.verification.helpers import (
    TASK,
    add_linkage_task,
    as_bytes,
    report,
    row,
)

#: Guangdong: 12 leads, 12 cases, 2 still open.
GD = [row("open", 2, "800"), row("confirmed", 8, "4000", "3900", "1000"),
      row("partly", 1, "500", "200"), row("excluded", 1, "300", reason="registry_lag")]
#: Guangxi: 10 leads, 8 cases (two leads had no payment line), all resolved.
GX = [row("confirmed", 5, "2000.10", "2000.10"), row("excluded", 2, "100", reason="data_error"),
      row("excluded", 1, "50", reason="other")]


@pytest.fixture
def store(tmp_path):
    with TaskStore(tmp_path / "coordinator.db") as opened:
        add_linkage_task(opened)
        yield opened


def _send(store, node, rows, **changes):
    record_verification(store, node, as_bytes(report(node, rows, **changes)))


def test_each_node_shows_its_leads_outcomes_amounts_and_precision(store):
    _send(store, "gd", GD)
    _send(store, "gx", GX)
    summary = verification_summary(store, TASK)
    assert summary["model"] == {"id": "pension.paid_after_death", "version": "1.0.0",
                                "title_zh": "死亡人员冒领养老金",
                                "title_en": "Pension paid after death"}
    assert (summary["task_state"], summary["pattern"]) == ("complete", "registry_attributes")
    nodes = {n["node_id"]: n for n in summary["nodes"]}
    assert list(nodes) == ["gd", "gx", "hn"]  # the registry gets no leads
    gd = nodes["gd"]
    assert (gd["status"], gd["leads"], gd["cases"], gd["open"], gd["resolved"]) == (
        "verifying", 12, 12, 2, 10)
    assert (gd["confirmed"], gd["partly"], gd["excluded"], gd["precision"]) == (8, 1, 1, 0.9)
    assert (gd["amount_at_stake"], gd["confirmed_amount"], gd["recovered_amount"]) == (
        "5600.00", "4100.00", "1000.00")
    assert gd["excluded_by_reason"]["registry_lag"] == 1
    gx = nodes["gx"]
    assert (gx["status"], gx["leads"], gx["cases"], gx["resolved"], gx["precision"]) == (
        "verified", 10, 8, 8, 0.625)
    assert gx["excluded_by_reason"] == {"data_error": 2, "policy_allows": 0,
                                        "registry_lag": 0, "already_recovered": 0, "other": 1}
    hn = nodes["hn"]
    assert (hn["status"], hn["reported"], hn["leads"], hn["cases"], hn["precision"]) == (
        "not_reported", False, 8, None, None)


def test_the_national_line_adds_the_nodes_that_reported(store):
    _send(store, "gd", GD)
    _send(store, "gx", GX)
    national = verification_summary(store, TASK)["national"]
    assert (national["nodes"], national["nodes_reported"], national["status"]) == (
        3, 2, "verifying")
    assert (national["leads"], national["cases"], national["open"], national["resolved"]) == (
        30, 20, 2, 18)
    assert (national["confirmed"], national["partly"], national["excluded"]) == (13, 1, 4)
    assert national["precision"] == round(14 / 18, 4)
    assert (national["amount_at_stake"], national["confirmed_amount"],
            national["recovered_amount"]) == ("7750.10", "6100.10", "1000.00")
    assert national["excluded_by_reason"]["data_error"] == 2
    assert national["reported_at"] == "2025-02-01T08:00:00+00:00"


def test_the_task_is_verified_once_every_node_resolved_every_case(store):
    _send(store, "gx", GX)
    _send(store, "hn", [])  # eight leads, none with a payment line: no case
    _send(store, "gd", [row("confirmed", 12, "5600", "5600")])
    summary = verification_summary(store, TASK)
    assert [n["status"] for n in summary["nodes"]] == ["verified"] * 3
    hn = summary["nodes"][2]
    assert (hn["cases"], hn["resolved"], hn["precision"]) == (0, 0, None)
    assert summary["national"]["status"] == "verified"
    assert summary["national"]["precision"] == round(17 / 20, 4)


def test_a_newer_report_replaces_the_older_in_the_summary(store):
    _send(store, "gd", [row("open", 12, "5600")])
    assert verification_summary(store, TASK)["nodes"][0]["precision"] is None
    _send(store, "gd", GD, reported_at="2025-02-05T00:00:00+00:00")
    gd = verification_summary(store, TASK)["nodes"][0]
    assert (gd["open"], gd["precision"], gd["reported_at"]) == (
        2, 0.9, "2025-02-05T00:00:00+00:00")


def test_nothing_reported_yet_shows_every_node_as_not_reported(store):
    summary = verification_summary(store, TASK)
    assert [n["status"] for n in summary["nodes"]] == ["not_reported"] * 3
    national = summary["national"]
    assert (national["status"], national["leads"], national["cases"]) == (
        "not_reported", 30, None)


def test_a_running_linkage_task_has_no_leads_yet(tmp_path):
    with TaskStore(tmp_path / "coordinator.db") as store:
        add_linkage_task(store, finish=False)
        summary = verification_summary(store, TASK)
    assert (summary["task_state"], summary["nodes"]) == ("running", [])
    assert summary["model"]["id"] == "pension.paid_after_death"


def test_an_unknown_task_is_not_found(store):
    with pytest.raises(CoordinatorError, match="no task t-gone") as refused:
        verification_summary(store, "t-gone")
    assert refused.value.code == "NOT_FOUND"


def test_a_task_without_linkage_has_nothing_to_verify(store):
    add_linkage_task(store, "t-agg", output_kind="aggregate", linkage=False)
    with pytest.raises(CoordinatorError, match="links no records") as refused:
        verification_summary(store, "t-agg")
    assert refused.value.code == "INVALID_REQUEST"


def test_a_failed_linkage_task_has_nothing_to_verify(store):
    store.add_task(task_id="t-failed", analysis_id="pension.paid_after_death",
                   analysis_version="1.0.0", analysis_digest="cd" * 32, output_kind="flags",
                   submitted_by="hq-lead", signed_task=b"s", targets=["gd"], deadline=1,
                   submitted_at=0)
    store.mark_missing("t-failed")
    store.finish_task("t-failed", "failed", None, {"error": "x"}, message="no node answered")
    with pytest.raises(CoordinatorError, match="failed before any lead") as refused:
        verification_summary(store, "t-failed")
    assert refused.value.code == "INVALID_REQUEST"
