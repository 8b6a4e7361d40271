"""medical.institution_profile (MED-08) on a synthetic federation, measured against its truth.

Each province's med_settlement is ingested into a real node data folder; the model's
province SQL runs in the node's sandbox (`node.executor.execute`), its output passes the
node's disclosure engine with the default policy, and the combine SQL runs over the
released partials, as the coordinator would. The outlier flag must find every planted
MED-08 institution-year (truth label `anomaly`) and never the HIGH_VOLUME look-alike.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from analyses import load_library
from analyses._fixtures import check_fixtures
from analyses._sql import partials_table, run_model_sql
from analyses.synth import generate_federation
from node.catalog import Catalog
from node.disclosure import MARKER_COLUMN, apply_disclosure
from node.executor import execute
from node.ingest import ingest_file
from node.policy import DisclosurePolicy, Policy

MODEL = load_library().get("medical.institution_profile")
NODES = ("gd", "sd")


@pytest.fixture(scope="module")
def federation(tmp_path_factory) -> Path:
    """Two provinces at the default scale (1:20,000): hospitals have 15–160 patients a year."""
    out = tmp_path_factory.mktemp("med08") / "fed"
    generate_federation(out, provinces=2, seed=7)
    return out


@pytest.fixture(scope="module")
def released(federation: Path, tmp_path_factory) -> dict:
    """Each node's output after the disclosure engine, as it would leave the node."""
    params = MODEL.bind_parameters({})
    outputs = {}
    for node in NODES:
        data_dir = tmp_path_factory.mktemp(f"{node}-data")
        ingest_file(data_dir, "med_settlement", federation / node / "med_settlement.csv")
        catalog = Catalog.load(data_dir)
        snapshots = {"med_settlement": catalog.path_of(catalog.current("med_settlement"))}
        table = execute(MODEL, "province", params, snapshots,
                        Policy(memory_limit="1GB", threads=2, timeout_seconds=120))
        outputs[node] = apply_disclosure(MODEL, table, DisclosurePolicy()).table
    return outputs


@pytest.fixture(scope="module")
def combined(released: dict) -> list[dict]:
    return run_model_sql(MODEL.sql["combine"], {"partials": partials_table(released)},
                         MODEL.bind_parameters({})).to_pylist()


def truth(federation: Path) -> list[dict]:
    with open(federation / "truth" / "MED-08.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def key(row: dict) -> tuple[str, str, int]:
    return (row["node"] if "node" in row else row["node_id"], row["fixmedins_code"],
            int(row["year"]))


def test_fixtures_pass():
    check_fixtures(MODEL)


def test_only_declared_columns_leave_and_cells_are_large_enough(released: dict):
    for table in released.values():
        assert table.column_names == [*MODEL.output.names, MARKER_COLUMN]
        for row in table.to_pylist():
            assert row["fixmedins_code"].startswith("H")
            if row[MARKER_COLUMN] is None:
                assert row["patients"] >= 10
            else:
                assert row["patients"] is None and row["avg_ipt_cost"] is None


def test_kpis_equal_the_truth_file(federation: Path, combined: list[dict]):
    by_key = {key(r): r for r in combined}
    for t in truth(federation):
        row = by_key[key(t)]
        assert row["fixmedins_lv"] == t["fixmedins_lv"]
        assert row["admissions"] == int(t["admissions"])
        assert row["avg_ipt_cost"] == Decimal(t["avg_ipt_cost"])
        assert row["avg_los"] == pytest.approx(float(t["avg_los"]), abs=0.006)
        assert row["fund_paid"] == Decimal(t["fund_paid"])


def test_recall_and_precision_on_the_planted_outliers(federation: Path, combined: list[dict]):
    rows = truth(federation)
    anomalies = {key(r) for r in rows if r["label"] == "anomaly"}
    lookalikes = {key(r) for r in rows if r["label"] == "lookalike"}
    flagged = {key(r) for r in combined if r["outlier"]}
    found = flagged & anomalies
    recall = len(found) / len(anomalies)
    precision = len(found) / len(flagged) if flagged else 0.0
    print(f"MED-08: {len(anomalies)} planted, {len(flagged)} flagged, recall {recall:.3f}, "
          f"precision {precision:.3f}, look-alikes flagged {len(flagged & lookalikes)}")
    assert anomalies and lookalikes
    assert recall == 1.0
    assert precision >= 0.95
    assert not flagged & lookalikes
    # The planted hospitals are costly and stay long; the big look-alike is only large.
    classes = {key(r): r["profile_class"] for r in combined}
    assert {classes[k] for k in anomalies} == {"高费用长住院"}
    assert all(classes[k] in ("正常", "关注") for k in lookalikes)


def test_national_peers_still_single_out_the_planted_hospitals(released: dict,
                                                                federation: Path):
    params = MODEL.bind_parameters({"peer_scope": "national"})
    rows = run_model_sql(MODEL.sql["combine"], {"partials": partials_table(released)},
                         params).to_pylist()
    anomalies = {key(r) for r in truth(federation) if r["label"] == "anomaly"}
    assert {key(r) for r in rows if r["outlier"]} == anomalies
