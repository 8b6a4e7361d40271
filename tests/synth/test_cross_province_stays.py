"""MED-02b: a person in hospital in two provinces on the same nights. The truth lists one
row per province, each pointing at settlements that really are in that province's CSV
and really share nights; the transfer look-alike shares none."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from analyses.evaluate import declared_reasons
from analyses.synth import generate_federation
from tests.model_support import load

CROSS, TRANSFER = "CROSS_PROVINCE", "CROSS_PROVINCE_TRANSFER"
_INPATIENT = ("21", "22", "52")


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _cross_rows(out: Path) -> list[dict]:
    return [r for r in _read(out / "truth" / "MED-02.csv") if r["reason"] in (CROSS, TRANSFER)]


def _settlements(out: Path) -> dict[str, dict[str, dict]]:
    """Every province's med_settlement rows by setl_id, by node."""
    return {path.parent.name: {r["setl_id"]: r for r in _read(path)}
            for path in sorted(out.glob("*/med_settlement.csv"))}


def _nights(stay: dict) -> set[dt.date]:
    begin, end = dt.date.fromisoformat(stay["begin_date"]), dt.date.fromisoformat(stay["end_date"])
    return {begin + dt.timedelta(days=i) for i in range((end - begin).days)}


@pytest.fixture(scope="module")
def cross(small_federation) -> list[dict]:
    rows = _cross_rows(small_federation)
    assert rows, "no cross-province MED-02 rows were planted"
    return rows


def test_both_provinces_hold_their_side_with_shared_nights(small_federation, cross):
    stays = _settlements(small_federation)
    sides = {(r["node_id"], r["other_node_id"], r["id_no"]): r for r in cross}
    for (node, other, id_no), row in sides.items():
        assert node != other and other in stays, row
        mirror = sides[(other, node, id_no)]  # the other province's row for the same person
        assert (mirror["setl_id_a"], mirror["setl_id_b"]) == (row["setl_id_b"], row["setl_id_a"])
        assert (mirror["label"], mirror["reason"]) == (row["label"], row["reason"])
        own, elsewhere = stays[node][row["setl_id_a"]], stays[other][row["setl_id_b"]]
        for stay in (own, elsewhere):
            assert stay["id_no"] == id_no
            assert stay["med_type"] in _INPATIENT and stay["refund_flag"] == "false"
        assert own["fixmedins_code"] == row["fixmedins_code_a"]
        assert elsewhere["fixmedins_code"] == row["fixmedins_code_b"]
        assert row["amount"] == own["fund_pay_sumamt"]
        shared = _nights(own) & _nights(elsewhere)
        assert len(shared) == int(row["overlap_days"]), row
        if row["label"] == "anomaly":
            assert row["reason"] == CROSS and len(shared) >= 3, row
            assert (str(min(shared)), str(max(shared) + dt.timedelta(days=1))) == (
                row["overlap_start"], row["overlap_end"])
        else:  # discharged in one province, admitted in the other the same day
            assert row["reason"] == TRANSFER and not shared, row
            assert own["begin_date"] == elsewhere["end_date"] or \
                own["end_date"] == elsewhere["begin_date"], row


def test_planted_persons_have_no_other_inpatient_stay(small_federation, cross):
    """So the within-province rule (MED-02) never sees them, and MED-02b sees exactly
    the planted pair."""
    planted = {r["id_no"]: {r["setl_id_a"], r["setl_id_b"]} for r in cross}
    found: dict[str, set[str]] = {}
    for table in _settlements(small_federation).values():
        for setl_id, stay in table.items():
            if stay["id_no"] in planted and stay["med_type"] in _INPATIENT:
                found.setdefault(stay["id_no"], set()).add(setl_id)
    assert found == planted


def test_every_pair_of_provinces_has_cases_and_a_lookalike(cross):
    pairs = Counter()
    for r in cross:
        if r["node_id"] < r["other_node_id"]:
            pairs[(r["node_id"], r["other_node_id"], r["label"])] += 1
    nodes = ("gd", "ha", "sd")
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            assert pairs[(a, b, "anomaly")] >= 3, (a, b)
            assert pairs[(a, b, "lookalike")] >= 1, (a, b)


def test_one_province_plants_nothing_across_provinces(tmp_path):
    out = tmp_path / "fed"
    generate_federation(out, provinces=1, scale=1e-6, seed=11)
    rows = _read(out / "truth" / "MED-02.csv")
    assert {r["reason"] for r in rows} == {"OVERLAPPING_STAYS", "SAME_DAY_TRANSFER"}
    assert all(r["other_node_id"] == "" for r in rows)


def test_the_two_models_split_the_truth_file_by_reason(small_federation):
    """MED-02 is measured on the within-province reason, MED-02b on the cross-province one;
    together they cover every anomaly reason of the file."""
    within = declared_reasons(load("medical.overlapping_stays"), "MED-02")
    across = declared_reasons(load("medical.overlapping_stays_cross_province"), "MED-02")
    assert within == ("OVERLAPPING_STAYS",) and across == (CROSS,)
    reasons = {r["reason"] for r in _read(small_federation / "truth" / "MED-02.csv")
               if r["label"] == "anomaly"}
    assert reasons == {*within, *across}
