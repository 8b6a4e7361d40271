"""The local pension models on a synthetic federation, measured against its ground truth.

As in tests/linkage_models/test_truth.py (`tests.model_support.run_model`): each province's
CSV files are ingested into a node data directory (IDs normalised, id_status set as at a
real node), the node SQL runs in the node's sandbox (`node.executor.execute`) with
``fa_token`` under a task key the province draws for itself (the local pattern: every
province its own key), the return is what the coordinator hands back for a local model
(`analyses._fixtures_linkage.link`: each province its own tokens), and the resolve SQL runs
at each province (`node.executor.execute_resolve`). The set of (node, ID number) with case
lines must equal the planted anomalies of the truth file (recall 1.0, no look-alike
flagged), and the amounts and the truth's other columns must match.
"""

from __future__ import annotations

from collections import defaultdict

from tests.model_support import check_cases, federation_fixture

federation = federation_fixture("pension-truth",
                                ("benefit_payment", "insured_person", "public_payroll"))


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
