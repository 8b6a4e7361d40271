"""The derived dataset_quality snapshot: written with every ingest, atomically, and kept apart."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from node.catalog import CATALOG_FILE, QUALITY_DATASET, Catalog, quality_rows
from node.errors import NodeError
from node.home import NodeHome
from node.ingest import IngestRejected, ingest_file, validate_file
from tests.data._samples import BENEFIT_HEADER, benefit_rows, write_csv
from tests.dq._homes import (
    broken_benefit_csv,
    make_home,
    planted_benefit_csv,
    planted_insured_csv,
    run_cli,
)

REPO = Path(__file__).resolve().parents[2]


def quality_table(catalog: Catalog) -> list[dict]:
    """The rows of the current dataset_quality snapshot file, as dicts."""
    record = catalog.current(QUALITY_DATASET)
    con = duckdb.connect(str(catalog.path_of(record)), read_only=True)
    try:
        rel = con.sql(f"SELECT * FROM {QUALITY_DATASET}")
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]
    finally:
        con.close()


def assert_consistent(data_dir: Path) -> Catalog:
    """Every snapshot the catalog names exists with its rows, and the current quality
    facts describe exactly the current ingested snapshots."""
    catalog = Catalog.load(data_dir)
    for record in catalog.snapshots(derived=True):
        path = catalog.path_of(record)
        assert path.is_file(), f"the catalog names {record.path}, which does not exist"
        con = duckdb.connect(str(path), read_only=True)
        try:
            assert con.execute(f"SELECT count(*) FROM {record.dataset}").fetchone()[0] == \
                record.rows
        finally:
            con.close()
    described = {r["dataset"]: r["snapshot_id"] for r in quality_table(catalog)}
    assert described == {name: catalog.current(name).snapshot_id
                         for name in catalog.datasets()}
    return catalog


def sha256_tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def home(federation: Path, tmp_path: Path) -> Path:
    return make_home(federation, tmp_path / "gd-home")


def test_every_ingest_writes_fresh_quality_facts(home: Path, tmp_path: Path):
    data_dir = NodeHome.open(home).data_dir
    assert Catalog.load(data_dir).current(QUALITY_DATASET) is None
    ingest_file(data_dir, "benefit_payment", planted_benefit_csv(tmp_path / "p.csv"),
                as_of=dt.date(2024, 7, 31))
    first = assert_consistent(data_dir).current(QUALITY_DATASET)
    assert first.current and first.derived and first.rows == 14  # benefit_payment columns
    ingest_file(data_dir, "insured_person", planted_insured_csv(tmp_path / "i.csv"))
    catalog = assert_consistent(data_dir)
    second = catalog.current(QUALITY_DATASET)
    assert second.snapshot_id != first.snapshot_id and second.rows == 14 + 22
    assert second.path == f"snapshots/{QUALITY_DATASET}/{second.snapshot_id}.duckdb"
    # The derived dataset is kept apart from ingested data, but a task can read it.
    assert catalog.datasets() == ("benefit_payment", "insured_person")
    assert catalog.datasets(derived=True) == ("benefit_payment", QUALITY_DATASET,
                                              "insured_person")
    assert [r.dataset for r in catalog.snapshots()] == ["benefit_payment", "insured_person"]
    assert [(r.snapshot_id, r.current) for r in catalog.snapshots(QUALITY_DATASET,
                                                                  derived=True)] == \
        [(first.snapshot_id, False), (second.snapshot_id, True)]
    # The catalog record carries the NULL counts the quality facts come from.
    payments = catalog.current("benefit_payment")
    assert payments.null_counts["pay_date"] == 3 and payments.null_counts["amount"] == 0
    rows = {(r["dataset"], r["column_name"]): r for r in quality_table(catalog)}
    assert rows[("benefit_payment", "pay_date")]["null_count"] == 3
    assert rows[("benefit_payment", "period")]["missing_month_list"] == \
        "2024-03, 2024-05..2024-06"
    assert rows[("insured_person", "gender")]["null_count"] == 2
    assert rows[("insured_person", "id_no")]["invalid_ids"] == 1


def test_the_same_facts_give_the_same_quality_snapshot(tmp_path: Path):
    data_dir = tmp_path / "data"
    csv = write_csv(tmp_path / "a.csv", BENEFIT_HEADER, benefit_rows(12))
    ingest_file(data_dir, "benefit_payment", csv)
    first = Catalog.load(data_dir).current(QUALITY_DATASET)
    ingest_file(data_dir, "benefit_payment", write_csv(tmp_path / "b.csv", BENEFIT_HEADER,
                                                       benefit_rows(13)))
    ingest_file(data_dir, "benefit_payment", csv)
    catalog = assert_consistent(data_dir)
    assert catalog.current(QUALITY_DATASET).snapshot_id == first.snapshot_id
    assert len(catalog.snapshots(QUALITY_DATASET, derived=True)) == 2


def test_a_rejected_file_leaves_the_quality_facts_untouched(home: Path, tmp_path: Path):
    data_dir = NodeHome.open(home).data_dir
    ingest_file(data_dir, "benefit_payment", planted_benefit_csv(tmp_path / "p.csv"))
    before = sha256_tree(data_dir)
    quality = Catalog.load(data_dir).current(QUALITY_DATASET)
    with pytest.raises(IngestRejected):
        ingest_file(data_dir, "benefit_payment", broken_benefit_csv(tmp_path / "bad.csv"))
    refused = run_cli("node", "ingest", "benefit_payment", tmp_path / "bad.csv",
                      "--home", home)
    assert refused.exit_code == 1
    assert sha256_tree(data_dir) == before
    assert Catalog.load(data_dir).current(QUALITY_DATASET) == quality


def test_dataset_quality_cannot_be_ingested_or_validated(home: Path, tmp_path: Path):
    csv = write_csv(tmp_path / "q.csv", ["dataset"], [["benefit_payment"]])
    for call in (lambda: ingest_file(tmp_path / "data", QUALITY_DATASET, csv),
                 lambda: validate_file(QUALITY_DATASET, csv)):
        with pytest.raises(NodeError, match="derived by the node"):
            call()
    usage = run_cli("node", "ingest", QUALITY_DATASET, csv, "--home", home)
    assert usage.exit_code == 2 and "benefit_payment" in usage.output
    assert not (tmp_path / "data").exists()


def test_the_datasets_listing_names_the_derived_snapshot_apart(home: Path, tmp_path: Path):
    assert run_cli("node", "ingest", "benefit_payment", planted_benefit_csv(tmp_path / "p.csv"),
                   "--home", home).exit_code == 0
    listed = run_cli("node", "datasets", "--home", home)
    assert listed.exit_code == 0
    table = [line.split()[0] for line in listed.stdout.splitlines()[1:]
             if not line.startswith(("benefit_payment:", "derived:"))]
    assert table == ["benefit_payment"]
    quality = Catalog.load(NodeHome.open(home).data_dir).current(QUALITY_DATASET)
    assert f"derived: {QUALITY_DATASET}" in listed.stdout
    assert quality.snapshot_id in listed.stdout
    as_json = json.loads(run_cli("node", "datasets", "--home", home, "--json").stdout)
    assert [r["dataset"] for r in as_json] == ["benefit_payment"]
    assert as_json[0]["null_counts"]["pay_date"] == 3


def test_a_catalog_from_before_null_counts_still_loads(tmp_path: Path):
    data_dir = tmp_path / "data"
    ingest_file(data_dir, "benefit_payment", planted_benefit_csv(tmp_path / "p.csv"))
    raw = json.loads((data_dir / CATALOG_FILE).read_text(encoding="utf-8"))
    del raw["derived"]
    for record in raw["snapshots"]:
        del record["null_counts"]
    (data_dir / CATALOG_FILE).write_text(json.dumps(raw), encoding="utf-8")
    catalog = Catalog.load(data_dir)
    assert catalog.current(QUALITY_DATASET) is None
    rows = quality_rows(catalog)
    assert rows and all(r["null_count"] is None for r in rows)
    assert {r["invalid_ids"] for r in rows} == {3}


CHILD = textwrap.dedent("""\
    import sys
    from node.ingest import ingest_file
    def say(message):
        print(message, file=sys.stderr, flush=True)
    ingest_file(sys.argv[1], "benefit_payment", sys.argv[2], progress=say)
    say("FINISHED")
""")

#: Where to kill: after the first progress line containing the text, plus a delay (s).
KILL_POINTS = [("deriving", 0.0), ("deriving", 0.003), ("deriving", 0.01),
               ("deriving", 0.03), ("recording", 0.0), ("recording", 0.002)]


@pytest.mark.slow
def test_an_ingest_killed_while_deriving_leaves_matching_facts(tmp_path: Path, monkeypatch):
    private_tmp = tmp_path / "private-tmp"
    private_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(private_tmp), "PYTHONPATH": str(REPO)}
    data_dir = tmp_path / "data"
    ingest_file(data_dir, "insured_person", planted_insured_csv(tmp_path / "i.csv"))
    old = ingest_file(data_dir, "benefit_payment", planted_benefit_csv(tmp_path / "p.csv"))
    new_csv = write_csv(tmp_path / "new.csv", BENEFIT_HEADER, benefit_rows(3000))
    seen = set()
    for marker, delay in KILL_POINTS:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir), str(new_csv)],
                                 cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        log = []
        try:
            for line in child.stderr:
                log.append(line)
                if marker in line or "FINISHED" in line:
                    break
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(timeout=60)
            child.stderr.close()
        assert any(marker in line for line in log), "".join(log)
        seen.add(assert_consistent(data_dir).current("benefit_payment").snapshot_id)
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    new = ingest_file(data_dir, "benefit_payment", new_csv)
    assert seen <= {old.snapshot_id, new.snapshot_id}
    assert assert_consistent(data_dir).current("benefit_payment").snapshot_id == \
        new.snapshot_id
    assert not [p for p in data_dir.rglob("*") if ".tmp" in p.name]
