"""The xlsx writer: sheets, headers and typed values read back with openpyxl."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from coordinator.findings import build_findings
from coordinator.findings_cli import workbook_tables
from node.xlsx import MAX_ROWS, XlsxError, write_xlsx
from tests.findings.helpers import PLACES, per_region_table, provenance

openpyxl = pytest.importorskip("openpyxl")


def read_back(path) -> dict[str, list[tuple]]:
    workbook = openpyxl.load_workbook(path)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook}


def test_round_trip_keeps_sheets_headers_and_typed_values(tmp_path):
    when = dt.datetime(2025, 1, 31, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    table = pa.table({
        "region": ["440000", "450000"],
        "period": pa.array([dt.date(2024, 1, 1), None], pa.date32()),
        "persons": pa.array([505, 7], pa.int64()),
        "amount": pa.array([Decimal("2414833.12"), Decimal("-10.50")], pa.decimal128(38, 2)),
        "rate": [0.25, None],
        "lower_bound": [True, False],
        "at": pa.array([when, None], pa.timestamp("s", tz="Asia/Shanghai")),
        "note": ["=HYPERLINK(\"http://x\")", "tab\there\x01"],
        "tags": pa.array([["a", "b"], []], pa.list_(pa.string())),
    })
    path = tmp_path / "out.xlsx"
    write_xlsx({"result": table, "empty": table.slice(0, 0)}, path)
    sheets = read_back(path)
    assert list(sheets) == ["result", "empty"]
    assert sheets["empty"] == [tuple(table.column_names)]
    header, first, second = sheets["result"]
    assert header == tuple(table.column_names)
    assert first[:6] == ("440000", dt.datetime(2024, 1, 1), 505, 2414833.12, 0.25, True)
    assert first[6] == dt.datetime(2025, 1, 31, 0, 30)  # in UTC, as Excel has no zones
    assert first[7] == "=HYPERLINK(\"http://x\")"  # text, never a formula
    assert first[8] == '["a", "b"]'
    assert second[:6] == ("450000", None, 7, -10.5, None, False)
    assert second[7] == "tab\there"  # a control character Excel refuses is dropped
    cell = openpyxl.load_workbook(path)["result"]["H2"]
    assert cell.data_type == "s"
    assert openpyxl.load_workbook(path)["result"]["D2"].number_format == "#,##0.00"


def test_sheet_names_are_made_valid_and_unique(tmp_path):
    table = pa.table({"a": [1]})
    path = tmp_path / "names.xlsx"
    write_xlsx({"a/b": table, "a_b": table, "x" * 40: table, "[q]?": table}, path)
    assert list(read_back(path)) == ["a_b", "a_b_2", "x" * 31, "_q__"]


def test_too_many_rows_for_a_sheet_is_refused_and_the_old_file_kept(tmp_path):
    path = tmp_path / "big.xlsx"
    path.write_bytes(b"earlier export")
    big = pa.table({"n": pa.array(range(MAX_ROWS), pa.int32())})
    with pytest.raises(XlsxError, match="csv or parquet"):
        write_xlsx({"result": big}, path)
    assert path.read_bytes() == b"earlier export"
    with pytest.raises(XlsxError, match="no table"):
        write_xlsx({}, path)


def test_findings_workbook_has_the_annex_table_coverage_and_rows(tmp_path):
    table = per_region_table([("440000", "110", "2024-03-01", 505, "2414833.12"),
                              ("450000", "110", "2024-03-01", 7, "1000.00")])
    prov = provenance(nodes=[{"node_id": "gd", "state": "done"},
                             {"node_id": "hn", "state": "refused", "refusal_code": "EXPIRED"}])
    findings = build_findings(table, prov, None, PLACES)
    path = tmp_path / "findings.xlsx"
    write_xlsx(workbook_tables(findings, table, prov, PLACES), path)
    sheets = read_back(path)
    assert list(sheets) == ["findings", "finding data", "coverage", "provenance", "result"]
    annex = sheets["findings"]
    assert annex[0][:4] == ("序号 No.", "问题类型 Problem type", "单位/项目/保障对象 Scope",
                            "问题事项 Finding")
    assert annex[1][0] == 1 and annex[1][2] == "广东省" and "241.48万元" in annex[1][3]
    assert annex[-1][2] == "全国2个省份" and annex[-1][5] == "待核实"
    data = {row[0]: row for row in sheets["finding data"][1:]}
    header = sheets["finding data"][0]
    gd = dict(zip(header, data["440000"], strict=True))
    assert gd["subjects"] == 505 and gd["amount_wan"] == 241.48 and gd["unit_zh"] == "人"
    assert sheets["coverage"][1:] == [("gd", "province", "440000", "广东省", "done", None),
                                      ("hn", "province", "460000", "海南省", "refused",
                                       "EXPIRED")]
    assert ("task_id", "t-1") in sheets["provenance"]
    assert len(sheets["result"]) == 3
