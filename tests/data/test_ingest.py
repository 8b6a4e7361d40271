"""Validated ingest: reports by row and column, untouched data on rejection, snapshots, catalog."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analyses.datasets import load_standard
from node.catalog import Catalog
from node.errors import NodeError
from node.ingest import IngestRejected, ingest_file, validate_file
from tests.data._samples import (
    BENEFIT_HEADER,
    INSURED_HEADER,
    benefit_rows,
    insured_rows,
    make_id,
    write_csv,
)


def tree(folder: Path) -> dict[str, str]:
    """Every file under folder (hidden ones too) with the SHA-256 of its bytes."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def table_rows(catalog: Catalog, dataset: str) -> list[tuple]:
    record = catalog.current(dataset)
    con = duckdb.connect(str(catalog.path_of(record)), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {dataset}").fetchall()
    finally:
        con.close()


@pytest.fixture()
def good_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "payments.csv", BENEFIT_HEADER, benefit_rows())


def test_validate_accepts_a_good_file_and_writes_nothing(good_csv: Path, tmp_path: Path):
    before = tree(tmp_path)
    report = validate_file("benefit_payment", good_csv)
    assert report.accepted and report.rows == 24 and report.problems == ()
    assert report.id_status_counts == {"valid": 24} and report.unknown_area == 0
    assert report.source_sha256 == hashlib.sha256(good_csv.read_bytes()).hexdigest()
    assert report.encoding == "utf-8" and report.format == "csv"
    assert tree(tmp_path) == before
    assert "OK: 24 rows" in report.render()


def test_problems_are_listed_by_row_and_column(tmp_path: Path):
    rows = benefit_rows(6)
    rows[1][3] = "119"              # scheme_code outside its code list
    rows[2][7] = "3,200.50"         # amount that does not parse
    rows[3][5] = "2024-03-15"       # period not on the 1st
    rows[4][8] = "11010"            # region code of 5 digits
    rows[5][2] = " "                # required psn_no blank
    header = [*BENEFIT_HEADER, "remark"]
    path = write_csv(tmp_path / "bad.csv", header, [[*r, ""] for r in rows])
    report = validate_file("benefit_payment", path)
    assert not report.accepted
    found = [(p.row, p.column, p.kind) for p in report.problems]
    assert found == [(None, "remark", "unknown_column"), (2, "scheme_code", "bad_code"),
                     (3, "amount", "unparsable"), (4, "period", "not_first_of_month"),
                     (5, "pool_admdvs", "bad_format"), (6, "psn_no", "null_required")]
    assert report.problems[2].value == "3,200.50"
    assert "'119' is not one of the codes 110, 120" in report.problems[1].message
    text = report.render()
    assert "REJECTED: 6 problems" in text and "What to fix:" in text
    assert "first day of the month" in text


def test_report_lists_the_first_50_and_counts_every_problem(tmp_path: Path):
    rows = benefit_rows(130)
    for row in rows:
        row[9] = "7"                                    # pay_status outside its list
    for row in rows[100:]:
        row[6] = "not a date"                           # pay_date unparsable
    path = write_csv(tmp_path / "many.csv", BENEFIT_HEADER, rows)
    report = validate_file("benefit_payment", path)
    assert len(report.problems) == 50
    assert report.counts == {"bad_code": {"pay_status": 130}, "unparsable": {"pay_date": 30}}
    assert report.problem_total == 160
    assert [p.row for p in report.problems] == list(range(1, 51))
    assert report.to_dict()["problem_counts"] == {"bad_code": 130, "unparsable": 30}


def test_local_only_values_never_appear_in_a_report(tmp_path: Path):
    rows = insured_rows()
    rows[0][1] = "某" * 10
    rows[0][2] = "5"  # gender outside its list, in the same row as the name
    path = write_csv(tmp_path / "p.csv", INSURED_HEADER, rows)
    report = validate_file("insured_person", path)
    assert [(p.row, p.kind) for p in report.problems] == [(1, "bad_code")]
    assert "某" not in str(report.to_dict()) and rows[0][0] not in str(report.to_dict())


@pytest.mark.parametrize("breakage", ["bad value", "missing column", "not a CSV", "no rows",
                                      "bad encoding"])
def test_a_rejected_file_leaves_the_data_directory_byte_identical(
        good_csv: Path, tmp_path: Path, breakage: str):
    data_dir = tmp_path / "data"
    ingest_file(data_dir, "benefit_payment", good_csv)
    before = tree(data_dir)
    bad = tmp_path / "bad.csv"
    if breakage == "bad value":
        rows = benefit_rows()
        rows[5][7] = "lots"
        write_csv(bad, BENEFIT_HEADER, rows)
    elif breakage == "missing column":
        write_csv(bad, BENEFIT_HEADER[1:], [r[1:] for r in benefit_rows()])
    elif breakage == "not a CSV":
        bad.write_text('pay_id,id_no\n"P1,"unterminated\nP2,x,y,z\n', encoding="utf-8")
    elif breakage == "no rows":
        write_csv(bad, BENEFIT_HEADER, [])
    else:
        bad.write_bytes(good_csv.read_bytes() + b"P9,\xff\xfe\xff\n")
    with pytest.raises(IngestRejected) as caught:
        ingest_file(data_dir, "benefit_payment", bad)
    assert not caught.value.report.accepted
    assert tree(data_dir) == before
    # A node that had no data at all still has none.
    with pytest.raises(IngestRejected):
        ingest_file(tmp_path / "fresh", "benefit_payment", bad)
    assert not (tmp_path / "fresh").exists()


def test_gbk_and_utf8_files_give_identical_snapshots(tmp_path: Path):
    utf8 = write_csv(tmp_path / "utf8.csv", INSURED_HEADER, insured_rows())
    gbk = write_csv(tmp_path / "gbk.csv", INSURED_HEADER, insured_rows(), encoding="gbk")
    bom = write_csv(tmp_path / "bom.csv", INSURED_HEADER, insured_rows(), encoding="utf-8-sig")
    assert utf8.read_bytes() != gbk.read_bytes()
    reports = {}
    for name, path, encoding in [("utf8", utf8, None), ("gbk", gbk, None),
                                 ("gbk-named", gbk, "GBK"), ("bom", bom, None)]:
        reports[name] = ingest_file(tmp_path / name, "insured_person", path, encoding=encoding)
    assert reports["gbk"].encoding == "gb18030" and reports["gbk-named"].encoding == "gbk"
    ids = {r.snapshot_id for r in reports.values()}
    assert len(ids) == 1
    snapshot_id = ids.pop()
    contents = [table_rows(Catalog.load(tmp_path / name), "insured_person") for name in reports]
    assert all(c == contents[0] for c in contents)
    assert contents[0][0][1] == "张三"
    snapshot_files = [tmp_path / name / "snapshots" / "insured_person" / f"{snapshot_id}.duckdb"
                      for name in reports]
    assert all(f.is_file() for f in snapshot_files)


def test_a_file_in_neither_encoding_or_a_wrongly_named_one_is_rejected(tmp_path: Path):
    gbk = write_csv(tmp_path / "gbk.csv", INSURED_HEADER, insured_rows(), encoding="gbk")
    report = validate_file("insured_person", gbk, encoding="utf-8")
    assert list(report.counts) == ["bad_encoding"] and "not valid UTF-8" in \
        report.problems[0].message
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"id_no,name\n\x81\x20\xff\xff,x\n")
    report = validate_file("insured_person", garbage)
    assert list(report.counts) == ["bad_encoding"]
    with pytest.raises(NodeError, match="unknown encoding"):
        validate_file("insured_person", gbk, encoding="klingon")


def test_parquet_string_or_typed_gives_the_same_snapshot_as_csv(tmp_path: Path):
    rows = benefit_rows()
    csv_path = write_csv(tmp_path / "p.csv", BENEFIT_HEADER, rows)
    columns = {name: [r[i] for r in rows] for i, name in enumerate(BENEFIT_HEADER)}
    pq.write_table(pa.table(columns), tmp_path / "strings.parquet")
    typed = dict(columns)
    typed["period"] = pa.array([dt.date.fromisoformat(v) for v in columns["period"]])
    typed["pay_date"] = pa.array([dt.date.fromisoformat(v) for v in columns["pay_date"]])
    typed["amount"] = pa.array([float(v) for v in columns["amount"]])
    pq.write_table(pa.table(typed), tmp_path / "typed.dat")  # Detected by content, not name.
    ids = set()
    for name, path in [("csv", csv_path), ("strings", tmp_path / "strings.parquet"),
                       ("typed", tmp_path / "typed.dat")]:
        report = ingest_file(tmp_path / name, "benefit_payment", path)
        ids.add(report.snapshot_id)
        assert report.format == ("csv" if name == "csv" else "parquet")
    assert len(ids) == 1


def test_parquet_column_of_the_wrong_type_is_rejected(tmp_path: Path):
    rows = benefit_rows()
    columns = {name: [r[i] for r in rows] for i, name in enumerate(BENEFIT_HEADER)}
    columns["period"] = [True] * len(rows)
    pq.write_table(pa.table(columns), tmp_path / "wrong.parquet")
    report = validate_file("benefit_payment", tmp_path / "wrong.parquet")
    assert report.counts == {"wrong_type": {"period": 1}}
    assert "BOOLEAN" in report.problems[0].message


def test_invalid_ids_are_kept_marked_and_counted(tmp_path: Path):
    rows = benefit_rows(8)
    rows[0][1] = "110105194912310021"                   # bad checksum
    rows[1][1] = "110105491231002"                      # legacy 15 digits
    rows[2][1] = ""                                     # missing
    rows[3][1] = make_id("990101", "19700101", 5)       # valid, unknown area
    path = write_csv(tmp_path / "ids.csv", BENEFIT_HEADER, rows)
    report = ingest_file(tmp_path / "data", "benefit_payment", path)
    assert report.id_status_counts == {"bad_checksum": 1, "upgraded": 1, "missing": 1,
                                       "valid": 5}
    assert report.unknown_area == 1
    catalog = Catalog.load(tmp_path / "data")
    record = catalog.current("benefit_payment")
    assert record.id_problems == 2 and record.unknown_area == 1
    stored = {r[0]: (r[1], r[-1]) for r in table_rows(catalog, "benefit_payment")}
    assert stored["P000000"] == ("110105194912310021", "bad_checksum")
    assert stored["P000001"] == ("11010519491231002X", "upgraded")
    assert stored["P000002"] == (None, "missing")


def test_snapshot_is_one_table_typed_per_the_standard(good_csv: Path, tmp_path: Path):
    ingest_file(tmp_path / "data", "benefit_payment", good_csv)
    catalog = Catalog.load(tmp_path / "data")
    con = duckdb.connect(str(catalog.path_of(catalog.current("benefit_payment"))),
                         read_only=True)
    tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    types = dict(con.execute("SELECT column_name, data_type FROM "
                             "information_schema.columns ORDER BY ordinal_position").fetchall())
    sample = con.execute("SELECT amount, period, data_as_of FROM benefit_payment "
                         "LIMIT 1").fetchone()
    con.close()
    standard = load_standard("benefit_payment")
    assert tables == [("benefit_payment",)]
    assert list(types) == [*standard.column_names, "id_status"]
    assert {k: v for k, v in types.items() if k != "id_status"} == standard.types
    assert sample == (pytest.approx(3000.5), dt.date(2024, 1, 1), None)


def test_catalog_records_periods_gaps_and_dates(tmp_path: Path):
    data_dir = tmp_path / "data"
    months = ["2024-01", "2024-02", "2024-04", "2024-07"]
    path = write_csv(tmp_path / "p.csv", BENEFIT_HEADER, benefit_rows(8, months))
    report = ingest_file(data_dir, "benefit_payment", path, as_of=dt.date(2024, 7, 31))
    record = Catalog.load(data_dir).current("benefit_payment")
    assert record.snapshot_id == report.snapshot_id and record.current
    assert (record.period_min, record.period_max) == (dt.date(2024, 1, 1), dt.date(2024, 7, 1))
    assert record.missing_months == (dt.date(2024, 3, 1), dt.date(2024, 5, 1),
                                     dt.date(2024, 6, 1))
    assert record.data_as_of == dt.date(2024, 7, 31)
    assert record.lag_days(dt.date(2024, 8, 10)) == 10
    assert record.source_name == "p.csv" and record.rows == 8
    assert record.path == f"snapshots/benefit_payment/{record.snapshot_id}.duckdb"
    # The data_as_of column wins over --as-of; without either, the ingest date is used.
    people = write_csv(tmp_path / "people.csv", INSURED_HEADER, insured_rows())
    ingest_file(data_dir, "insured_person", people, as_of=dt.date(2000, 1, 1))
    no_date = write_csv(tmp_path / "nd.csv", INSURED_HEADER[:-1],
                        [r[:-1] for r in insured_rows()])
    ingest_file(tmp_path / "other", "insured_person", no_date)
    catalog = Catalog.load(data_dir)
    assert catalog.current("insured_person").data_as_of == dt.date(2024, 6, 30)
    assert catalog.current("insured_person").period_min is None
    assert Catalog.load(tmp_path / "other").current("insured_person").data_as_of == \
        dt.date.today()
    assert catalog.datasets() == ("benefit_payment", "insured_person")
    assert catalog.lag_days(dt.date(2024, 8, 10)) == {"benefit_payment": 10,
                                                      "insured_person": 41}


def test_new_snapshots_become_current_and_old_files_stay(tmp_path: Path):
    data_dir = tmp_path / "data"
    first = ingest_file(data_dir, "benefit_payment",
                        write_csv(tmp_path / "a.csv", BENEFIT_HEADER, benefit_rows(12)))
    old_file = data_dir / Catalog.load(data_dir).current("benefit_payment").path
    old_bytes = old_file.read_bytes()
    second = ingest_file(data_dir, "benefit_payment",
                         write_csv(tmp_path / "b.csv", BENEFIT_HEADER, benefit_rows(13)))
    assert second.snapshot_id != first.snapshot_id
    catalog = Catalog.load(data_dir)
    assert catalog.current("benefit_payment").snapshot_id == second.snapshot_id
    assert [(r.snapshot_id, r.current) for r in catalog.snapshots("benefit_payment")] == \
        [(first.snapshot_id, False), (second.snapshot_id, True)]
    assert old_file.read_bytes() == old_bytes
    # The same content again (from another file name) makes the first current again.
    again = ingest_file(data_dir, "benefit_payment",
                        write_csv(tmp_path / "c.csv", BENEFIT_HEADER, benefit_rows(12)))
    assert again.snapshot_id == first.snapshot_id
    catalog = Catalog.load(data_dir)
    assert len(catalog.snapshots()) == 2
    assert catalog.current("benefit_payment").source_name == "c.csv"
    assert old_file.read_bytes() == old_bytes


def test_stale_temporary_files_are_removed_by_the_next_ingest(good_csv: Path, tmp_path: Path):
    data_dir = tmp_path / "data"
    ingest_file(data_dir, "benefit_payment", good_csv)
    stale = [data_dir / ".catalog.json.999.tmp",
             data_dir / "snapshots" / "benefit_payment" / ".ingest.duckdb.999.tmp",
             data_dir / "snapshots" / "benefit_payment" / ".ingest.duckdb.999.tmp.wal"]
    for path in stale:
        path.write_bytes(b"half written")
    ingest_file(data_dir, "benefit_payment", good_csv)
    assert not any(p.exists() for p in stale)
    assert not list(data_dir.rglob("*.tmp*"))


def test_columns_match_case_insensitively_and_optional_ones_may_be_absent(tmp_path: Path):
    header = [h.upper() for h in BENEFIT_HEADER[:-1]]   # no src_system, upper-case names
    rows = [r[:-1] for r in benefit_rows(4)]
    rows[0][3] = " 110 "                                # padded code, as fixed-width exports
    path = write_csv(tmp_path / "upper.csv", header, rows)
    report = ingest_file(tmp_path / "data", "benefit_payment", path)
    assert report.accepted
    stored = table_rows(Catalog.load(tmp_path / "data"), "benefit_payment")
    assert stored[0][3] == "110" and all(r[12] is None for r in stored)


def test_dates_in_the_wrong_order_are_rejected(tmp_path: Path):
    header = ["case_id", "id_no", "program", "admdvs", "start_date", "end_date", "status"]
    rows = [["C1", make_id("110105", "19500101", 1), "01", "110105001001", "2020-01-01",
             "2019-12-31", "1"],
            ["C2", make_id("110105", "19500101", 2), "01", "110105001", "2020-01-01", "", "1"]]
    report = validate_file("assistance_member", write_csv(tmp_path / "a.csv", header, rows))
    assert [(p.row, p.column, p.kind) for p in report.problems] == [
        (1, "end_date", "date_order"), (2, "admdvs", "bad_format")]
    assert "2020-01-01 > 2019-12-31" in report.problems[0].message


def test_user_errors_say_what_to_do(tmp_path: Path, good_csv: Path):
    with pytest.raises(NodeError, match="does not exist"):
        validate_file("benefit_payment", tmp_path / "nope.csv")
    with pytest.raises(NodeError, match="unknown dataset 'pension'.*benefit_payment"):
        validate_file("pension", good_csv)
