"""The HTML report rendered from hand-made provenance and tables, read back with html.parser."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pyarrow as pa
import pytest

from analyses import load_library
from coordinator.report import ReportError, breakdown, render_report
from tests.report.helpers import (
    PLACES,
    REGIONS,
    Page,
    aggregate_table,
    done,
    provenance,
    write_model,
)

#: Four pooling regions in three provinces; 450102's persons were suppressed at one node.
ROWS = [("440103", 12, "123456.00", False), ("440104", 30, "6544.00", False),
        ("450102", 15, "50000.50", True), ("460105", None, None, True)]
NODES = [
    {**done("gd"), "node_id": "gd"},
    done("gx", primary=1),
    {"node_id": "hn", "state": "refused", "refusal_code": "MISSING_DATASET"},
    {"node_id": "zj", "state": "missing"},
]


@pytest.fixture
def model(tmp_path):
    return write_model(tmp_path / "models")


@pytest.fixture
def page(model) -> Page:
    html = render_report(provenance(model, NODES), aggregate_table(ROWS), model,
                         receipts={"gd": "verified", "gx": "NOT VERIFIED (InvalidSignature)"},
                         places=PLACES, generated_at="2025-07-01T00:00:00+00:00")
    return Page(html)


def test_the_report_references_nothing_outside_the_file(page):
    tags = {name for name, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "base", "form"}
    for name, attrs in page.tags:
        assert "src" not in attrs, name
        if "href" in attrs:
            assert attrs["href"].startswith("#"), attrs["href"]
        for value in attrs.values():
            assert not re.search(r"https?:|^//|url\(", value, re.I), (name, value)
    styles = "".join(page.styles)
    assert styles and "url(" not in styles and "@import" not in styles
    csp = [a["content"] for a in page.find("meta") if a.get("http-equiv")]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_one_chart_for_the_count_and_one_for_the_money_with_a_bar_per_province(page):
    assert len(page.charts) == 2
    assert all(len(bars) == 3 for bars in page.charts)  # 44, 45 and 46
    charts = page.sections["charts"]
    assert "persons by province" in charts and "amount (万元) by province" in charts
    assert "广东省 (440000)" in charts and "广西壮族自治区 (450000)" in charts
    # Guangdong: 12 + 30 persons, 123,456 + 6,544 yuan = 13.00 万元.
    assert "42" in charts and "13.00" in charts
    widths = [float(bar["width"]) for bar in page.charts[0]]
    assert widths[0] == max(widths)  # 42 persons is the largest bar


def test_lower_bounds_and_suppressed_cells_are_marked(page):
    lower = [bar for bars in page.charts for bar in bars if "lb" in bar["class"].split()]
    assert len(lower) == 4  # Guangxi and Hainan, in both charts
    assert "≥ 15" in page.sections["charts"] and "≥ 5.00" in page.sections["charts"]
    # The marked result row's two cells; Guangxi's and the national finding's two each.
    assert len(page.find("td", "lb")) == 2 + 4
    assert page.find("td", "sup")  # Hainan's persons and amount: no node could release them
    assert "≥ 50,000.50" in page.sections["result"]
    assert "suppressed" in page.sections["result"]


def test_refusals_and_missing_nodes_appear_in_the_coverage_section(page):
    coverage = page.sections["coverage"]
    assert "2 of 4 target nodes answered" in coverage
    assert "hn refused: refusal MISSING_DATASET" in coverage
    assert "zj missing" in coverage
    assert "NOT VERIFIED (InvalidSignature)" in coverage and "verified" in coverage
    assert "Partial coverage: 2 of 4 nodes did not answer" in page.all_text
    assert "snap-gd-2025-06-01" in page.sections["snapshots"]
    policies = page.sections["policies"]
    assert "n=2, k=85" in policies and "aggregate: auto, flags: manual" in policies
    assert "2 of 3 cells released; suppressed 1 primary" in policies


def test_the_findings_are_the_finding_lines_per_province(page):
    findings = page.sections["findings"]
    assert "广东省1市2县（区），测试模型：涉及42人，金额13.00万元" in findings
    assert "涉及≥15人，金额≥5.00万元" in findings  # Guangxi: a node suppressed its part
    assert "Coverage: 2 of 4 target nodes answered; refused: hn (MISSING_DATASET)" in findings
    assert len(page.find("li", "lb")) == 3  # Guangxi, Hainan and the national line


def test_verification_is_honestly_not_yet_available(page):
    verification = page.sections["verification"]
    assert "Not yet available." in verification and "raises no leads" in verification


def test_every_value_is_escaped(model):
    evil = "<script>alert('x')</script>"
    table = aggregate_table([(evil, 20, "1.00", False), ("440103", 20, "2.00", False)])
    nodes = [done("gd"), {"node_id": "hn", "state": "failed",
                          "message": '<img src="x" onerror="alert(1)">'}]
    prov = provenance(model, nodes)
    prov["submitted_by"] = "<b>lead</b>"
    page = Page(render_report(prov, table, model, places=PLACES))
    tags = {name for name, _ in page.tags}
    assert "script" not in tags and "img" not in tags and "b" not in tags
    assert page.all_text.count(evil) >= 2  # the chart label and the result row
    assert '<img src="x" onerror="alert(1)">' in page.sections["coverage"]
    assert "<b>lead</b>" in page.all_text
    assert [len(bars) for bars in page.charts] == [2, 2]


def test_node_ids_are_labelled_with_their_province():
    model = load_library().get("dq.dataset_quality")
    table = pa.table({"node": ["gd", "gd", "gx"], "dataset": ["a", "b", "a"],
                      "rows": pa.array([10, 20, 30], pa.int64())})
    result = breakdown(table, model, PLACES)
    assert result.per_province and result.column == "node"
    assert [(g.label, g.count) for g in result.groups] == [
        ("广东省 (gd)", 30), ("广西壮族自治区 (gx)", 30)]
    assert result.money_column is None
    page = Page(render_report(provenance(model, [done("gd"), done("gx")], "complete"),
                              table, model, places=PLACES))
    assert len(page.charts) == 1  # no money measure, no amount chart
    assert "has no money measure" in page.sections["charts"]


def test_a_result_without_a_province_column_is_charted_by_its_first_dimension_and_says_so():
    model = load_library().get("fund.benefit_summary")
    table = pa.table({
        "scheme_code": ["110", "110", "170"],
        "period": [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 1, 1)],
        "persons": pa.array([7, 1, 5], pa.int64()),
        "payments": pa.array([9, 1, 6], pa.int64()),
        "amount": pa.array([Decimal("21150.00"), Decimal("3200.00"), Decimal("-720.00")],
                           pa.decimal128(38, 2)),
    })
    page = Page(render_report(provenance(model, [done("gd")], "complete"), table, model))
    assert "has no province column" in page.sections["charts"]
    assert [len(bars) for bars in page.charts] == [2, 2]
    assert "persons by scheme_code" in page.sections["charts"]
    assert "neg" in page.charts[1][1]["class"].split()  # 170's net amount is negative
    assert "Every target node answered" in page.sections["coverage"]
    assert "Partial coverage" not in page.all_text


def test_flags_leave_tokens_out_and_count_rows_per_province(tmp_path):
    model = write_model(tmp_path / "models", kind="flags")
    tokens = [f"{i:064x}" for i in range(3)]
    table = pa.table({"token": tokens, "pool_admdvs": ["440103", "440104", "450102"],
                      "amount": pa.array([Decimal("100.00")] * 3, pa.decimal128(38, 2))})
    page = Page(render_report(provenance(model, [done("gd"), done("gx")], "complete"),
                              table, model, places=PLACES))
    assert not any(token in page.all_text for token in tokens)
    assert "token columns are left out" in page.sections["result"]
    assert [len(bars) for bars in page.charts] == [2, 2]
    assert "rows by province" in page.sections["charts"]
    assert "七-26" in page.sections["model"]
    assert "待核实" in page.sections["findings"]  # flags are leads, pending verification
    assert "raises no leads" not in page.sections["verification"]


def test_a_failed_result_without_rows_still_reports_its_coverage(model):
    nodes = [{"node_id": n, "state": "refused", "refusal_code": "NOT_TARGET"} for n in REGIONS]
    page = Page(render_report(provenance(model, nodes, "failed"), None, model))
    assert page.charts == []
    assert "nothing to chart" in page.sections["charts"]
    assert "0 of 4 target nodes answered" in page.sections["coverage"]
    assert page.sections["coverage"].count("NOT_TARGET") == 8  # table and list


def test_long_results_list_the_first_rows_and_say_how_to_get_the_rest(model):
    page = Page(render_report(provenance(model, NODES), aggregate_table(ROWS), model,
                              max_rows=1))
    assert "Showing the first 1 of 4 rows" in page.sections["result"]
    assert all(len(bars) == 3 for bars in page.charts)  # the charts still use every row


def test_a_report_with_another_version_of_the_model_is_refused(model):
    prov = provenance(model, NODES)
    prov["analysis"]["digest"] = "0" * 64
    with pytest.raises(ReportError, match="report it with the model library that made it"):
        render_report(prov, aggregate_table(ROWS), model)
