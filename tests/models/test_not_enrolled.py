"""assistance.not_enrolled (SA-03) on a synthetic federation, measured against its ground truth.

Each province's CSVs are ingested into a node data directory and the model runs as a node
runs it (`node.executor.execute` on the catalog's snapshots, then the disclosure engine);
the partials are combined with the model's combine SQL. Run alone, the county-level counts
must equal the planted anomalies (NOT_ENROLLED) plus the persons enrolled only in another
province (ENROLLED_ELSEWHERE, which a province alone cannot see, as the manifest says); run
after assistance.enrolled_elsewhere (its partials joined by the coordinator's blind join),
they must equal the planted anomalies alone. The STUDENT look-alikes must not be counted;
the target persons must equal an independent count written in Python.
"""

from __future__ import annotations

import csv
import datetime as dt
import secrets
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from analyses import load_model
from analyses.synth import generate_federation
from coordinator.linkage import blind_join
from node.catalog import Catalog
from node.disclosure import MARKER_COLUMN, PRIMARY, apply_disclosure
from node.executor import execute
from node.ingest import ingest_file
from node.policy import Policy

REPO = Path(__file__).resolve().parents[2]
MODEL = load_model(REPO / "analyses/models/assistance/not_enrolled")
PRESENCE = load_model(REPO / "analyses/models/assistance/enrolled_elsewhere")
DATASETS = ("assistance_member", "insured_person")
PENSIONS = {"110", "120", "170"}
#: Two provinces, so that some recipients are enrolled only in the other one.
FEDERATION = {"provinces": 2, "scale": 1e-6, "seed": 23}


@pytest.fixture(scope="module")
def federation(tmp_path_factory) -> dict:
    """The generated federation, each province ingested into its own node data directory."""
    root = tmp_path_factory.mktemp("sa03")
    out = root / "fed"
    summary = generate_federation(out, **FEDERATION)
    nodes = sorted(n for n in summary.persons)
    snapshots = {}
    for node in nodes:
        data_dir = root / "nodes" / node
        for dataset in DATASETS:
            ingest_file(data_dir, dataset, out / node / f"{dataset}.csv")
        catalog = Catalog.load(data_dir)
        snapshots[node] = {ds: catalog.path_of(catalog.current(ds)) for ds in DATASETS}
    with open(out / nodes[0] / "assistance_member.csv", encoding="utf-8") as f:
        as_of = max(dt.date.fromisoformat(r["data_as_of"]) for r in csv.DictReader(f))
    return {"out": out, "nodes": nodes, "snapshots": snapshots, "as_of": as_of}


def run(fed: dict, node: str, key: bytes | None = None, returned: pa.Table | None = None,
        **params) -> pa.Table:
    """The model's declared output at one node, before disclosure; with an earlier
    enrolled_elsewhere task's key and the node's return of it, when given."""
    return execute(MODEL, "province", {"as_of": fed["as_of"], **params},
                   fed["snapshots"][node], Policy(), task_key=key, returned=returned)


def presence_returns(fed: dict, tmp_path: Path) -> tuple[bytes, dict[str, pa.Table]]:
    """Runs assistance.enrolled_elsewhere at every node under one task key and joins the
    outputs with the coordinator's blind join: (key, each node's return)."""
    key = secrets.token_bytes(32)
    partials = {}
    for node in fed["nodes"]:
        table = execute(PRESENCE, "province", {}, fed["snapshots"][node], Policy(),
                        task_key=key)
        partials[node] = tmp_path / f"{node}.arrows"
        with pa.OSFile(str(partials[node]), "wb") as sink, \
                pa.ipc.new_stream(sink, table.schema) as out:
            out.write_table(table)
    joined = blind_join("presence", partials, dict.fromkeys(fed["nodes"], "province"),
                        tmp_path / "returns")
    returns = {}
    for node, path in joined.returns.items():
        with pa.ipc.open_stream(path.read_bytes()) as reader:
            returns[node] = reader.read_all()
    return key, returns


def combine(partials: dict[str, pa.Table]) -> list[dict]:
    """The model's combine SQL over the node outputs, as the coordinator runs it."""
    tables = [t.add_column(0, "node_id", pa.array([n] * t.num_rows, pa.string()))
              for n, t in partials.items()]
    con = duckdb.connect(":memory:")
    try:
        con.register("partials", pa.concat_tables(tables))
        return con.sql(MODEL.sql["combine"]).to_arrow_table().to_pylist()
    finally:
        con.close()


def truth(fed: dict) -> dict[tuple[str, str, str], int]:
    """Persons per (node, county, reason) of truth/SA-03.csv."""
    with open(fed["out"] / "truth" / "SA-03.csv", encoding="utf-8") as f:
        return {(r["node_id"], r["county"], r["reason"]): int(r["persons"])
                for r in csv.DictReader(f)}


def totals(table: pa.Table) -> dict[str, tuple[int, int]]:
    """(target_persons, not_enrolled) of the rows over all programmes, by region."""
    return {r["region"]: (r["target_persons"], r["not_enrolled"])
            for r in table.to_pylist() if r["program"] is None}


def python_targets(fed: dict, node: str) -> int:
    """Target persons of a node written without SQL: active, programme not 04, aged 16 or
    more on as_of, and not a child (relation 03) aged 22 or less in any such row."""
    as_of = fed["as_of"]
    ages, student = {}, set()
    with open(fed["out"] / node / "assistance_member.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["status"] != "1" or r["program"] == "04":
                continue
            b = dt.date.fromisoformat(r["birth_date"])
            age = as_of.year - b.year - ((as_of.month, as_of.day) < (b.month, b.day))
            if age >= 16:
                ages[r["id_no"]] = age
                if r["relation"] == "03" and age <= 22:
                    student.add(r["id_no"])
    return len(set(ages) - student)


def test_counts_the_planted_cases_per_county(federation):
    expected = truth(federation)
    found = planted = elsewhere = hits = 0
    for node in federation["nodes"]:
        counties = totals(run(federation, node, region_level="county"))
        for county, (_, not_enrolled) in counties.items():
            anomalies = expected.get((node, county, "NOT_ENROLLED"), 0)
            other = expected.get((node, county, "ENROLLED_ELSEWHERE"), 0)
            assert not_enrolled == anomalies + other, (node, county)
            found += not_enrolled
            hits += min(not_enrolled, anomalies)
            planted += anomalies
            elsewhere += other
        missing = {k for k in expected if k[0] == node and k[2] == "NOT_ENROLLED"
                   and k[1] not in counties}
        assert not missing, f"counties with planted cases but no output row: {missing}"
    recall, precision = hits / planted, hits / found
    print(f"SA-03: planted {planted}, counted {found} (of which {elsewhere} enrolled in "
          f"another province), recall {recall:.2f}, precision {precision:.2f}")
    assert planted >= 6
    assert elsewhere >= 1, "the federation should plant ENROLLED_ELSEWHERE look-alikes"


def test_after_the_presence_task_only_the_planted_cases_count(federation, tmp_path):
    expected = truth(federation)
    key, returns = presence_returns(federation, tmp_path)
    elsewhere = sum(v for (_, _, reason), v in expected.items() if reason == "ENROLLED_ELSEWHERE")
    assert sum(t.num_rows for t in returns.values()) >= elsewhere >= 1
    for node in federation["nodes"]:
        counties = totals(run(federation, node, key, returns[node], region_level="county"))
        for county, (_, not_enrolled) in counties.items():
            assert not_enrolled == expected.get((node, county, "NOT_ENROLLED"), 0), (node, county)
        alone = totals(run(federation, node, region_level="county"))
        assert {c: v[0] for c, v in alone.items()} == {c: v[0] for c, v in counties.items()}


def test_students_are_left_out(federation):
    expected = truth(federation)
    for node in federation["nodes"]:
        students = sum(v for (n, _, reason), v in expected.items()
                       if n == node and reason == "STUDENT")
        assert students >= 1
        with_students = totals(run(federation, node, student_max_age=0))
        without = totals(run(federation, node))
        assert sum(v[1] for v in with_students.values()) == \
            sum(v[1] for v in without.values()) + students


def test_target_persons_match_an_independent_count(federation):
    for node in federation["nodes"]:
        province = totals(run(federation, node))
        assert len(province) == 1, "a province node reports its own province"
        (target, not_enrolled), = province.values()
        assert target == python_targets(federation, node)
        assert 0 < not_enrolled < target


def test_programme_rows_and_combine(federation):
    partials = {node: run(federation, node) for node in federation["nodes"]}
    for table in partials.values():
        rows = table.to_pylist()
        total = next(r for r in rows if r["program"] is None)
        by_programme = [r for r in rows if r["program"] is not None]
        assert {r["program"] for r in by_programme} <= {"01", "02", "03", "05"}
        # A person in two programmes counts in each, once in the total.
        assert sum(r["target_persons"] for r in by_programme) >= total["target_persons"]
        assert max(r["target_persons"] for r in by_programme) <= total["target_persons"]
    combined = combine(partials)
    node_totals = {k: v for t in partials.values() for k, v in totals(t).items()}
    assert {r["region"]: (r["target_persons"], r["not_enrolled"])
            for r in combined if r["program"] is None} == node_totals
    for r in combined:
        assert r["not_enrolled_pct"] == round(100 * r["not_enrolled"] / r["target_persons"], 2)


def test_the_province_total_passes_disclosure(federation):
    for node in federation["nodes"]:
        released = apply_disclosure(MODEL, run(federation, node), Policy().disclosure).table
        rows = released.to_pylist()
        total = next(r for r in rows if r["program"] is None)
        assert total[MARKER_COLUMN] is None and total["target_persons"] >= 10
        small = [r for r in run(federation, node).to_pylist() if r["target_persons"] < 10]
        suppressed = [r for r in rows if r[MARKER_COLUMN] == PRIMARY]
        assert len(suppressed) == len(small)
        assert all(r["not_enrolled"] is None for r in suppressed)
