"""Finding lines from hand-built results: persons, 万元 amounts, lower bounds, periods,
region scope, coverage and the generic rendering of models the library does not know."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest

from analyses import load_library
from coordinator.findings import build_findings, region_name
from tests.findings.helpers import PLACES, per_region_table, provenance


@pytest.fixture(scope="module")
def summary_model():
    return load_library().get("fund.benefit_summary")


@pytest.fixture(scope="module")
def problem_model(summary_model):
    """A model that declares a problem type, so its findings wait for verification."""
    return dataclasses.replace(summary_model, title_zh="死亡人员冒领养老金",
                               title_en="Pension paid after death", problem_types=("七-26",))


def lines_by_key(findings):
    return {line.key: line for line in findings.lines}


def test_a_line_per_province_with_persons_and_amount_in_wan(problem_model):
    table = per_region_table([
        ("440000", "110", "2024-03-01", 505, "2414833.12"),
        ("450000", "110", "2024-03-01", 7, "1000.00"),
    ])
    findings = build_findings(table, provenance(problem_model), problem_model, PLACES)
    lines = lines_by_key(findings)
    assert list(lines) == ["440000", "450000", "national"]
    gd = lines["440000"]
    assert gd.text_zh == ("2024年3月，广东省，死亡人员冒领养老金：涉及505人，"
                          "金额241.48万元（待核实）。")
    assert gd.text_en == ("Mar 2024, Guangdong — Pension paid after death: 505 persons, "
                          "241.48 wan yuan (CNY 2,414,833.12) (pending verification).")
    assert gd.amount_wan == Decimal("241.48") and gd.subjects == 505
    national = lines["national"]
    assert national.scope_zh == "全国2个省份"
    assert "涉及512人" in national.text_zh and "金额241.58万元" in national.text_zh
    assert "七-26" in national.problem_type
    assert any("两个节点均被计数" in zh for zh, _ in findings.notes)


def test_withheld_cells_make_lower_bounds_marked_with_ge(problem_model):
    table = per_region_table([
        ("440000", "110", "2024-03-01", 30, "50000.00", 1),  # another node withheld a part
        ("450000", "110", "2024-03-01", 12, "20000.00"),
        ("450000", "120", "2024-03-01", None, None),  # the whole cell withheld
    ])
    lines = lines_by_key(build_findings(table, provenance(problem_model), problem_model,
                                        PLACES))
    gd, gx, national = lines["440000"], lines["450000"], lines["national"]
    assert gd.lower_bound and "涉及≥30人" in gd.text_zh and "金额≥5.00万元" in gd.text_zh
    assert "部分单元格因保密规则未披露" in gd.text_zh
    assert "some cells withheld under disclosure rules" in gd.text_en
    assert gx.lower_bound and "≥12" in gx.text_zh  # its NULL cell hides persons too
    assert national.lower_bound and "涉及≥42人次" in national.text_zh  # gx has two cells
    assert "金额≥7.00万元" in national.text_zh


def test_nothing_disclosed_says_so_instead_of_zero(problem_model):
    table = per_region_table([("440000", "110", "2024-03-01", None, None, 1)])
    gd = lines_by_key(build_findings(table, provenance(problem_model), problem_model,
                                     PLACES))["440000"]
    assert gd.subjects is None and gd.amount_yuan is None
    assert "人数未披露" in gd.text_zh and "金额未披露" in gd.text_zh
    assert "count not disclosed" in gd.text_en


def test_cells_over_months_are_person_counts_with_the_peak_month(summary_model):
    table = per_region_table([
        ("440000", "110", "2022-01-01", 100, "1000.00"),
        ("440000", "110", "2023-06-01", 120, "1000.00"),
        ("440000", "170", "2024-12-01", 30, "1000.00"),
    ])
    gd = lines_by_key(build_findings(table, provenance(summary_model), summary_model,
                                     PLACES))["440000"]
    assert gd.per_cell and gd.peak == 120
    assert gd.text_zh.startswith("2022年至2024年，广东省，")
    assert "涉及250人次（单期最多120人）" in gd.text_zh
    assert "250 person-counts (at most 120 persons in one period)" in gd.text_en
    assert "统计汇总，无需核实" in gd.text_zh  # a descriptive model has nothing to verify


def test_period_from_parameters_when_the_result_has_no_period(summary_model):
    table = pa.table({"region": ["440000"], "persons": pa.array([5], pa.int64())})
    params = {"period_start": "2023-03-01", "period_end": "2023-09-01"}
    gd = lines_by_key(build_findings(table, provenance(summary_model, parameters=params),
                                     summary_model, PLACES))["440000"]
    assert gd.text_zh.startswith("2023年3月至9月，广东省")
    assert gd.text_en.startswith("Mar 2023 – Sep 2023, Guangdong")
    # The declared defaults mean "all months": no period is claimed.
    defaults = {"period_start": dt.date(1990, 1, 1), "period_end": dt.date(2099, 12, 1)}
    gd = lines_by_key(build_findings(table, provenance(summary_model), summary_model, PLACES,
                                     parameters=defaults))["440000"]
    assert gd.period_zh == "" and gd.text_zh.startswith("广东省，")


def test_county_codes_give_the_number_of_cities_and_counties(problem_model):
    table = per_region_table([
        ("440103", "110", "2024-03-01", 3, "100.00"),
        ("440104", "110", "2024-03-01", 2, "100.00"),
        ("440305", "110", "2024-03-01", 1, "100.00"),
        ("440306", "110", "2024-03-01", 0, "0.00"),  # no problem here: not counted
    ])
    lines = lines_by_key(build_findings(table, provenance(problem_model), problem_model,
                                        PLACES))
    assert lines["440000"].scope_zh == "广东省2市3县（区）"
    assert lines["440000"].scope_en == "Guangdong (2 prefectures, 3 counties)"
    assert lines["440000"].subjects == 6 and not lines["440000"].per_cell


def test_coverage_names_refusals_failures_and_silence(problem_model):
    nodes = [{"node_id": "gd", "state": "done"}, {"node_id": "gx", "state": "done"},
             {"node_id": "hn", "state": "refused", "refusal_code": "EXPIRED"},
             {"node_id": "deaths", "state": "failed", "message": "out of memory"},
             {"node_id": "xj", "state": "missing"}]
    table = per_region_table([("440000", "110", "2024-03-01", 1, "1.00")])
    findings = build_findings(table, provenance(problem_model, nodes=nodes), problem_model,
                              PLACES)
    zh, en = findings.coverage.text()
    assert zh == ("覆盖范围：目标节点5个，已答复2个；拒绝1个：hn（EXPIRED）；失败1个：deaths；"
                  "未答复1个：xj。")
    assert en == ("Coverage: 2 of 5 target nodes answered; refused: hn (EXPIRED); "
                  "failed: deaths (out of memory); no answer: xj.")


def test_a_result_without_regions_gets_a_national_line_only(summary_model):
    table = pa.table({"scheme_code": ["110", "170"],
                      "persons": pa.array([10, 20], pa.int64()),
                      "amount": pa.array([Decimal("15000.00"), Decimal("5000.00")],
                                         pa.decimal128(38, 2))})
    findings = build_findings(table, provenance(summary_model), summary_model, PLACES)
    assert [line.key for line in findings.lines] == ["national"]
    assert findings.lines[0].scope_zh == "全国2个省份"  # the provinces that answered
    assert "涉及30人次" in findings.lines[0].text_zh and "2.00万元" in findings.lines[0].text_zh
    assert findings.notes[0][1] == ("the result is not broken down by province: national "
                                    "total only")


def test_an_unknown_model_is_rendered_from_its_columns():
    """A token model's per-node summary: registry nodes are listed but not added up."""
    table = pa.table({"node_id": ["deaths", "gd", "gx"],
                      "level": ["registry", "province", "province"],
                      "tokens_submitted": pa.array([5000, 900, 800], pa.int64()),
                      "matched": pa.array([15, 12, 3], pa.int64())})
    findings = build_findings(table, provenance(kind="tokens"), None, PLACES)
    lines = lines_by_key(findings)
    assert list(lines) == ["gd", "gx", "deaths", "national"]
    assert lines["gd"].text_zh == "广东省，未知模型：涉及12人（待核实）。"
    assert lines["deaths"].scope_zh == "deaths（全国）"
    assert lines["national"].subjects == 15 and lines["national"].scope_zh == "全国2个省份"
    assert any("deaths" in en and "not added" in en for _, en in findings.notes)


def test_a_result_without_counts_or_money_is_a_table_not_a_sentence():
    table = pa.table({"region": ["440000", "440000", "450000"],
                      "indicator": ["a", "b", "a"],
                      "months_payable": pa.array([14.5, 20.0, 9.0], pa.float64())})
    findings = build_findings(table, provenance(), None, PLACES)
    assert findings.style == "table" and not findings.lines
    rows = {row.key: row for row in findings.summary}
    assert rows["440000"].values == {"months_payable": 20.0}  # rates do not add: largest
    zh, en = rows["440000"].text(findings.columns)
    assert zh == "广东省：单元格数 2，最大months_payable 20.0"
    assert en == "Guangdong: cells 2, largest months payable 20.0"


def test_verification_status_per_line(problem_model):
    table = per_region_table([("440000", "110", "2024-03-01", 5, "10.00"),
                              ("450000", "110", "2024-03-01", 5, "10.00")])
    lines = lines_by_key(build_findings(table, provenance(problem_model), problem_model,
                                        PLACES, verification={"440000": "verified"}))
    assert lines["440000"].text_zh.endswith("（已核实）。")
    assert lines["450000"].text_zh.endswith("（待核实）。")
    with pytest.raises(ValueError, match="not one of"):
        build_findings(table, provenance(problem_model), problem_model, PLACES,
                       verification={"440000": "done"})


def test_findings_serialise_to_json_with_exact_amounts(problem_model):
    table = per_region_table([("440000", "110", "2024-03-01", 505, "2414833.12")])
    data = json.loads(json.dumps(build_findings(table, provenance(problem_model),
                                                problem_model, PLACES).to_dict()))
    gd = data["lines"][0]
    assert gd["amount_yuan"] == "2414833.12" and gd["amount_wan"] == "241.48"
    assert gd["unit_zh"] == "人" and data["coverage"]["answered"] == ["gd", "gx"]


def test_no_result_rows_still_report_coverage(problem_model):
    nodes = [{"node_id": "gd", "state": "refused", "refusal_code": "NOT_TARGET"}]
    findings = build_findings(None, provenance(problem_model, nodes=nodes), problem_model,
                              PLACES)
    assert findings.lines == () and "拒绝1个：gd（NOT_TARGET）" in findings.coverage.text()[0]


@pytest.mark.parametrize(("code", "names"), [
    ("440000", ("广东省", "Guangdong")), ("100000", ("全国", "national")),
    ("650102", ("新疆维吾尔自治区（650102）", "Xinjiang (650102)")),
    ("990000", ("地区990000", "region 990000")), (None, ("未知地区", "unknown region")),
])
def test_region_names(code, names):
    assert region_name(code) == names
