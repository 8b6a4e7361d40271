"""Every generated file follows its dataset standard: columns, codes, patterns, required
values, types, date order; ID numbers are valid (but for ~0.3% deliberate errors)."""

from __future__ import annotations

import csv
import re
import tomllib
from collections import Counter

import pytest

from analyses.datasets import load_standard
from analyses.synth import REGISTRIES
from node.idno import normalise_one
from tests.synth.rules import connect

PROVINCE_DATASETS = ("insured_person", "contribution", "benefit_payment", "med_settlement",
                     "assistance_member", "assistance_payment", "public_payroll")
NODES = {"gd": PROVINCE_DATASETS, "sd": PROVINCE_DATASETS, "ha": PROVINCE_DATASETS,
         **dict(REGISTRIES)}


@pytest.fixture(scope="module")
def con(small_federation):
    connection = connect(small_federation)
    yield connection
    connection.close()


def _files(out):
    for node, datasets in NODES.items():
        for ds in datasets:
            yield node, ds, out / node / f"{ds}.csv"


def _read(path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def test_spec_lists_every_node_with_the_files_written(small_federation):
    spec = tomllib.loads((small_federation / "federation.toml").read_text(encoding="utf-8"))
    assert spec["name"] == "synth"
    nodes = {n["id"]: n for n in spec["node"]}
    assert {k: tuple(v["datasets"]) for k, v in nodes.items()} == NODES
    assert [(n["level"], n["region"]) for n in spec["node"][:3]] == [
        ("province", "440000"), ("province", "370000"), ("province", "410000")]
    assert {nodes[r]["level"] for r, _ in REGISTRIES} == {"registry"}
    assert {nodes[r]["region"] for r, _ in REGISTRIES} == {"100000"}
    assert [(i["id"], i["roles"]) for i in spec["issuer"]] == [
        ("hq-lead", ["lead"]), ("hq-approver", ["approver"])]
    assert [o["id"] for o in spec["office"]] == ["office-south"]
    written = {p.relative_to(small_federation).as_posix()
               for p in small_federation.glob("*/*.csv") if p.parent.name != "truth"}
    assert written == {f"{node}/{ds}.csv" for node, ds, _ in _files(small_federation)}


def test_certs_provision_accepts_the_spec(small_federation, tmp_path):
    from certs import provision

    result = provision(small_federation / "federation.toml", tmp_path / "kits")
    assert {party for party, _, _ in result.kits} >= set(NODES) | {"hq-lead", "office-south"}


def test_every_file_follows_its_standard(small_federation):
    for _, ds, path in _files(small_federation):
        standard = load_standard(ds)
        header, records = _read(path)
        assert tuple(header) == standard.column_names, path
        assert records, f"{path} is empty"
        for col in standard.columns:
            values = [r[col.name] for r in records]
            if col.required:
                assert all(values), f"{path}: required column {col.name} has empty values"
            present = {v for v in values if v}
            if col.codes:
                assert present <= set(col.codes), f"{path}: {col.name} outside its code list"
            if col.pattern:
                bad = [v for v in present if not re.fullmatch(col.pattern, v)]
                assert not bad, f"{path}: {col.name} values {bad[:3]} break {col.pattern}"
            if col.max_length:
                assert max(map(len, present), default=0) <= col.max_length, (path, col.name)
        assert {r["data_as_of"] for r in records} == {"2025-12-31"}, path


def test_types_keys_and_date_order_hold_in_duckdb(con):
    # connect() reads every file with the standard's column types; a bad value fails there.
    for ds in sorted({ds for datasets in NODES.values() for ds in datasets}):
        standard = load_standard(ds)
        keys = ", ".join(("node_id", *standard.key))
        dup = con.execute(f"SELECT count(*) FROM (SELECT {keys} FROM {ds} GROUP BY ALL "
                          f"HAVING count(*) > 1)").fetchone()[0]
        assert dup == 0, f"{ds}: key {standard.key} is not unique"
        for start, end in standard.date_order:
            bad = con.execute(f"SELECT count(*) FROM {ds} WHERE {end} < {start}").fetchone()[0]
            assert bad == 0, f"{ds}: {end} before {start}"
        if standard.period_column:
            days = con.execute(f"SELECT DISTINCT day({standard.period_column}) FROM {ds}")
            assert days.fetchall() == [(1,)], f"{ds}: a period is not a first of month"
            span = con.execute(f"SELECT min({standard.period_column}), "
                               f"max({standard.period_column}) FROM {ds}").fetchone()
            assert str(span[0]) >= "2023-01-01" and str(span[1]) <= "2025-12-01", ds


def test_ids_are_valid_but_for_a_few_deliberate_errors(small_federation):
    statuses = Counter()
    for node, ds, path in _files(small_federation):
        column = load_standard(ds).id_column
        if column is None:
            continue
        _, records = _read(path)
        for r in records:
            id18, status = normalise_one(r[column])
            statuses[status] += 1
            if node in dict(REGISTRIES):
                assert status == "valid", f"{path}: registry ID {r[column]} is {status}"
            if status == "valid" and r.get("birth_date"):
                assert r["birth_date"].replace("-", "") == id18[6:14], path
            if status == "valid" and r.get("gender"):
                assert int(id18[16]) % 2 == (r["gender"] == "1"), path
    bad = sum(statuses[s] for s in ("bad_checksum", "bad_date", "upgraded"))
    assert statuses["bad_checksum"] and statuses["bad_date"] and statuses["upgraded"]
    assert 0.0005 < bad / sum(statuses.values()) < 0.01


def test_persons_move_between_provinces(con):
    shared = con.execute("""SELECT count(DISTINCT id_no) FROM (
        SELECT id_no FROM insured_person GROUP BY id_no HAVING count(DISTINCT node_id) > 1)
        """).fetchone()[0]
    assert shared >= 10  # transfers, duplicate pensions, enrolment elsewhere
    deaths = con.execute("SELECT count(DISTINCT id_no) FROM death_record d WHERE EXISTS "
                         "(SELECT 1 FROM benefit_payment b WHERE b.id_no = d.id_no)")
    assert deaths.fetchone()[0] >= 20


@pytest.mark.parametrize("scheme, low, high", [("110", 1_500, 8_000), ("170", 100, 1_500)])
def test_pension_amounts_are_realistic(con, scheme, low, high):
    median = con.execute(f"""SELECT median(m) FROM (SELECT sum(amount) AS m
        FROM benefit_payment WHERE scheme_code = '{scheme}' AND pay_status = '1'
          AND benefit_item IN ('0101','0102','0103')
        GROUP BY node_id, id_no, period)""").fetchone()[0]
    assert low < median < high


def test_the_node_ingest_validator_accepts_every_file(small_federation):
    from node.ingest import validate_file

    for node, ds, path in _files(small_federation):
        report = validate_file(ds, path)
        assert report.problems == (), f"{path}: {report.problems[:3]}"
        assert report.rows == len(_read(path)[1])
        if node in dict(REGISTRIES) or load_standard(ds).id_column is None:
            continue
        # One mangled ID repeats on every monthly row of its person: allow a few percent.
        assert report.id_status_counts.get("valid", 0) > 0.9 * report.rows, path
