"""The case store on a real SQLite file: opening, resolution rules, aggregates, versions."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

import pyarrow as pa
import pytest

from node.audit_log import AuditLog, AuditLogBroken
from node.cases import CaseError, CaseStore
from tests.cases.helpers import (
    LI,
    LI_TOKEN,
    MODEL,
    TASK,
    TITLE,
    ZHANG,
    ZHANG_TOKEN,
    resolve_output,
)

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture()
def store(tmp_path):
    with CaseStore(tmp_path / "cases.sqlite") as opened:
        yield opened


@pytest.fixture()
def opened(store):
    """The store with the two cases of TASK open; case 0001 is Zhang's, 0002 Li's."""
    assert store.open_cases(TASK, MODEL, TITLE, resolve_output(), now=NOW, leads=3) == 2
    return store


ZHANG_CASE, LI_CASE = "C-1a2b3c4d-0001", "C-1a2b3c4d-0002"


def test_one_case_per_token_with_its_lines_as_text(opened):
    zhang = opened.case(ZHANG_CASE)
    assert (zhang.token, zhang.subject_id, zhang.subject_name) == (ZHANG_TOKEN, ZHANG, "张三")
    assert zhang.amount_at_stake == Decimal("4520.50")
    assert (zhang.analysis_id, zhang.title, zhang.status) == (MODEL, TITLE, "open")
    assert zhang.opened_at == "2026-03-02T09:30:00Z"
    assert zhang.line_count == 3
    assert zhang.lines[0] == {"subject_id": ZHANG, "subject_name": "张三", "amount": "1500.00",
                              "period": "2024-03-01", "item": "basic", "setl_id": "11"}
    assert [line["period"] for line in zhang.lines] == ["2024-03-01", "2024-04-01",
                                                        "2024-05-01"]
    li = opened.case(LI_CASE)
    assert (li.token, li.amount_at_stake, li.lines[0]["setl_id"]) == (LI_TOKEN,
                                                                    Decimal("980.25"), None)


def test_opening_a_task_again_changes_nothing(opened):
    other = resolve_output([(ZHANG_TOKEN, ZHANG, "张三", Decimal("1"), dt.date(2024, 1, 1),
                             "basic", 1)])
    assert opened.open_cases(TASK, MODEL, TITLE, other) == 2
    assert [c.case_id for c in opened.cases()] == [ZHANG_CASE, LI_CASE]
    assert opened.case(ZHANG_CASE).amount_at_stake == Decimal("4520.50")
    assert opened.unsent() == [(TASK, 1)]
    assert opened.task(TASK).leads == 3


def test_a_task_without_lines_is_recorded_with_no_case(store):
    assert store.open_cases(TASK, MODEL, TITLE, resolve_output([])) == 0
    assert store.cases() == []
    assert store.outcome_rows(TASK) == []
    assert store.unsent() == [(TASK, 1)]


def test_two_tasks_with_the_same_id_start_get_distinct_case_ids(store):
    twin = TASK[:8] + "f" * 24
    store.open_cases(TASK, MODEL, TITLE, resolve_output())
    store.open_cases(twin, MODEL, TITLE, resolve_output())
    ids = [c.case_id for c in store.cases()]
    assert len(set(ids)) == 4
    assert ids[2] == f"C-{twin[:9]}-0001"


@pytest.mark.parametrize(("table", "message"), [
    (pa.table({"token": ["t"], "subject_id": ["x"], "amount": [1]}), "must start with"),
    (resolve_output([(None, ZHANG, "张三", Decimal(1), dt.date(2024, 1, 1), "b", 1)]),
     "has no token"),
    (resolve_output([("t", None, "张三", Decimal(1), dt.date(2024, 1, 1), "b", 1)]),
     "has no subject_id"),
    (resolve_output([("t", ZHANG, "张三", None, dt.date(2024, 1, 1), "b", 1)]),
     "has no amount"),
])
def test_a_malformed_resolve_output_opens_nothing(store, table, message):
    with pytest.raises(CaseError, match=message):
        store.open_cases(TASK, MODEL, TITLE, table)
    assert store.tasks() == [] and store.unsent() == []


# -- resolution rules -----------------------------------------------------------------------

#: (outcome, keyword arguments, the error's wording), each a rule of the contract.
REFUSED = [
    ("dismissed", {}, "unknown outcome"),
    ("excluded", {}, "needs a reason code"),
    ("excluded", {"reason": "late"}, "unknown reason code"),
    ("excluded", {"reason": "other"}, "needs a note"),
    ("excluded", {"reason": "other", "note": "   "}, "needs a note"),
    ("excluded", {"reason": "data_error", "confirmed_amount": "10"}, "no confirmed or"),
    ("confirmed", {"reason": "registry_lag"}, "takes no reason"),
    ("confirmed", {"confirmed_amount": "-1"}, "may not be negative"),
    ("confirmed", {"recovered_amount": "-0.01"}, "may not be negative"),
    ("confirmed", {"confirmed_amount": "1.005"}, "more than two decimals"),
    ("confirmed", {"confirmed_amount": "lots"}, "is not a number"),
    ("confirmed", {"confirmed_amount": "NaN"}, "is not a number"),
    ("partly", {}, "needs the confirmed amount"),
    ("partly", {"confirmed_amount": "100", "recovered_amount": "100.01"}, "may not exceed"),
    ("confirmed", {"resolved_by": " "}, "who resolved"),
]


@pytest.mark.parametrize(("outcome", "kwargs", "message"), REFUSED)
def test_a_resolution_breaking_a_rule_is_refused_and_changes_nothing(opened, outcome, kwargs,
                                                                      message):
    kwargs = {"resolved_by": "auditor-wang", **kwargs}
    with pytest.raises(CaseError, match=message):
        opened.resolve(ZHANG_CASE, outcome, **kwargs)
    assert opened.case(ZHANG_CASE).status == "open"
    assert opened.unsent() == [(TASK, 1)]


def test_an_unknown_case_is_refused(opened):
    with pytest.raises(CaseError, match="no case C-nope"):
        opened.resolve("C-nope", "confirmed", resolved_by="auditor-wang")
    with pytest.raises(CaseError, match="no case C-nope"):
        opened.case("C-nope")


def test_confirmed_defaults_to_the_amount_at_stake(opened):
    case = opened.resolve(ZHANG_CASE, "confirmed", resolved_by="auditor-wang", now=NOW)
    assert (case.status, case.outcome, case.reason) == ("resolved", "confirmed", None)
    assert (case.confirmed_amount, case.recovered_amount) == (Decimal("4520.50"), Decimal("0"))
    assert (case.resolved_by, case.resolved_at) == ("auditor-wang", "2026-03-02T09:30:00Z")


def test_confirmed_above_the_amount_at_stake_is_allowed(opened):
    case = opened.resolve(LI_CASE, "confirmed", confirmed_amount="1,200.00",
                          recovered_amount=Decimal("1200"), resolved_by="auditor-wang")
    assert (case.confirmed_amount, case.recovered_amount) == (Decimal("1200.00"),
                                                              Decimal("1200.00"))


def test_excluded_forces_zero_amounts_and_keeps_its_reason(opened):
    case = opened.resolve(LI_CASE, "excluded", reason="other", note="moved abroad, alive",
                          confirmed_amount="0", resolved_by="auditor-wang")
    assert (case.outcome, case.reason, case.note) == ("excluded", "other",
                                                      "moved abroad, alive")
    assert (case.confirmed_amount, case.recovered_amount) == (0, 0)


def test_resolving_again_is_a_correction_kept_in_the_history(opened):
    opened.resolve(ZHANG_CASE, "confirmed", resolved_by="auditor-wang")
    case = opened.resolve(ZHANG_CASE, "partly", reason="registry_lag",
                          confirmed_amount="3000", recovered_amount="500",
                          resolved_by="auditor-liu")
    assert (case.outcome, case.confirmed_amount, case.resolved_by) == (
        "partly", Decimal("3000.00"), "auditor-liu")
    assert [(h["outcome"], h["confirmed_amount"]) for h in case.history] == [
        ("confirmed", "4520.50"), ("partly", "3000.00")]
    assert opened.unsent() == [(TASK, 3)]


# -- aggregates and versions ----------------------------------------------------------------


def test_outcome_rows_sum_cases_and_amounts_per_outcome_and_reason(store):
    people = [(f"{n:064x}", f"1101011950010{n:05d}", None, Decimal("100.10") * n,
               dt.date(2024, 1, 1), "basic", n) for n in range(1, 7)]
    store.open_cases(TASK, MODEL, TITLE, resolve_output(people))
    ids = [c.case_id for c in store.cases()]
    store.resolve(ids[0], "confirmed", recovered_amount="50", resolved_by="a")
    store.resolve(ids[1], "confirmed", resolved_by="a")
    store.resolve(ids[2], "excluded", reason="registry_lag", resolved_by="a")
    store.resolve(ids[3], "partly", confirmed_amount="1", resolved_by="a")
    assert store.outcome_rows(TASK) == [
        {"outcome": "open", "reason": None, "cases": 2, "amount_at_stake": "1101.10",
         "confirmed_amount": "0.00", "recovered_amount": "0.00"},
        {"outcome": "confirmed", "reason": None, "cases": 2, "amount_at_stake": "300.30",
         "confirmed_amount": "300.30", "recovered_amount": "50.00"},
        {"outcome": "partly", "reason": None, "cases": 1, "amount_at_stake": "400.40",
         "confirmed_amount": "1.00", "recovered_amount": "0.00"},
        {"outcome": "excluded", "reason": "registry_lag", "cases": 1,
         "amount_at_stake": "300.30", "confirmed_amount": "0.00", "recovered_amount": "0.00"},
    ]
    with pytest.raises(CaseError, match="no cases for task"):
        store.outcome_rows("f" * 32)


def test_every_change_bumps_the_version_until_it_is_sent(opened):
    assert opened.unsent() == [(TASK, 1)]
    opened.mark_sent(TASK, 1)
    assert opened.unsent() == []
    opened.resolve(LI_CASE, "confirmed", resolved_by="a")
    opened.resolve(ZHANG_CASE, "confirmed", resolved_by="a")
    assert opened.unsent() == [(TASK, 3)]
    # A report of version 2 was in flight when version 3 was made: 3 stays unsent.
    opened.mark_sent(TASK, 2)
    assert opened.unsent() == [(TASK, 3)]
    opened.mark_sent(TASK, 3)
    opened.mark_sent(TASK, 2)  # a late acknowledgement never goes back
    assert opened.unsent() == [] and opened.task(TASK).sent_version == 3
    for task_id, version in ((TASK, 4), (TASK, 0), ("f" * 32, 1)):
        with pytest.raises(CaseError, match="to mark as sent"):
            opened.mark_sent(task_id, version)


def test_cases_filter_by_task_and_status(opened):
    opened.resolve(LI_CASE, "confirmed", resolved_by="a")
    assert [c.case_id for c in opened.cases(status="open")] == [ZHANG_CASE]
    assert [c.case_id for c in opened.cases(task_id=TASK, status="resolved")] == [LI_CASE]
    assert opened.cases(task_id="f" * 32) == []
    with pytest.raises(CaseError, match="unknown case status"):
        opened.cases(status="closed")


def test_cases_survive_reopening_and_are_shared_between_connections(tmp_path):
    path = tmp_path / "cases.sqlite"
    with CaseStore(path) as first, CaseStore(path) as second:
        first.open_cases(TASK, MODEL, TITLE, resolve_output())
        second.resolve(LI_CASE, "excluded", reason="data_error", resolved_by="a")
        assert first.case(LI_CASE).outcome == "excluded"
    with CaseStore(path) as again:
        assert [(c.case_id, c.status) for c in again.cases()] == [(ZHANG_CASE, "open"),
                                                                  (LI_CASE, "resolved")]
        assert again.unsent() == [(TASK, 2)]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


# -- the audit log --------------------------------------------------------------------------


def test_opening_and_resolving_are_logged_without_the_subject(opened, tmp_path):
    log = AuditLog(tmp_path / "audit.log")
    opened.open_cases("e" * 32, MODEL, TITLE, resolve_output(), leads=5, audit_log=log)
    opened.resolve(LI_CASE, "partly", reason="other", note="李四 still alive",
                   confirmed_amount="100", resolved_by="auditor-wang", audit_log=log)
    opened_entry, resolved_entry = list(log.entries())
    assert opened_entry["event"] == "cases.opened"
    assert (opened_entry["cases"], opened_entry["lines"], opened_entry["leads"]) == (2, 4, 5)
    assert opened_entry["amount_at_stake"] == "5500.75"
    assert {k: resolved_entry[k] for k in ("event", "case_id", "task_id", "outcome", "reason",
                                           "amount_at_stake", "confirmed_amount",
                                           "recovered_amount", "correction")} == {
        "event": "case.resolved", "case_id": LI_CASE, "task_id": TASK, "outcome": "partly",
        "reason": "other", "amount_at_stake": "980.25", "confirmed_amount": "100.00",
        "recovered_amount": "0.00", "correction": False}
    text = log.path.read_text(encoding="utf-8")
    assert LI not in text and "李四" not in text and LI_TOKEN not in text


def test_a_resolution_that_cannot_be_logged_does_not_take_effect(opened, tmp_path):
    log = AuditLog(tmp_path / "audit.log")
    log.append("node.initialised")
    log.head_path.write_text('{"seq": 7, "hash": "' + "0" * 64 + '"}\n')  # a damaged log
    with pytest.raises(AuditLogBroken):
        opened.resolve(LI_CASE, "confirmed", resolved_by="a", audit_log=log)
    assert opened.case(LI_CASE).status == "open"
    assert opened.unsent() == [(TASK, 1)]


def test_the_case_file_is_readable_by_its_owner_only(tmp_path):
    import stat

    from node.cases import CaseStore

    store = CaseStore(tmp_path / "cases.sqlite")
    store.close()
    assert stat.S_IMODE((tmp_path / "cases.sqlite").stat().st_mode) == 0o600


def test_opening_a_store_keeps_the_locks_this_process_already_holds(tmp_path):
    """POSIX drops every lock a process holds on a file when it closes any descriptor of
    it. Opening a second store in the same process must not: another process closing
    its connection would then think it was the last one and delete the WAL files in use."""
    import subprocess
    import sys

    from node.cases import CaseStore

    path = tmp_path / "cases.sqlite"
    with CaseStore(path) as first:
        first.unsent()
        CaseStore(path).close()  # a second store opened and closed meanwhile
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect("
                        "sys.argv[1]); c.execute('SELECT count(*) FROM sqlite_master')"
                        ".fetchall(); c.close()", str(path)], check=True, timeout=60)
        assert (tmp_path / "cases.sqlite-wal").exists(), "the WAL of a store in use is gone"
        first.unsent()
