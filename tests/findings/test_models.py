"""Findings of the library's real models, run on their own fixtures with run_model_sql:
the province SQL at each node, the combine SQL at HQ, then the finding lines."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pyarrow.compute as pc
import pytest

from analyses import load_library, partials_table, run_model_sql
from analyses._fixtures import fixture_inputs, fixture_parameters
from coordinator.findings import build_findings
from tests.findings.helpers import PLACES, provenance


@pytest.fixture(scope="module")
def library():
    return load_library()


def run_federated(model, outputs_by_node: dict) -> object:
    """The combine SQL over the nodes' outputs, as the coordinator runs it."""
    return run_model_sql(model.sql["combine"], {"partials": partials_table(outputs_by_node)},
                         fixture_parameters(model))


def test_benefit_summary_fixture_gives_persons_and_wan_amounts(library):
    model = library.get("fund.benefit_summary")
    params = fixture_parameters(model)
    output = run_model_sql(model.sql["province"], fixture_inputs(model, "province"), params)
    result = run_federated(model, {"gd": output, "gx": output})
    findings = build_findings(result, provenance(model), model, PLACES)

    national = findings.lines[-1]
    persons = pc.sum(result["persons"]).as_py()
    yuan = pc.sum(result["amount"]).as_py()
    wan = (yuan / 10000).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert national.key == "national" and national.subjects == persons
    assert national.amount_yuan == yuan and national.amount_wan == wan
    assert f"金额{wan}万元" in national.text_zh
    # Cells are scheme x month, so the sum counts a person once per cell: 人次.
    assert f"涉及{persons}人次" in national.text_zh
    first, last = pc.min(result["period"]).as_py(), pc.max(result["period"]).as_py()
    assert national.period_start == first.isoformat()
    assert national.period_end == last.isoformat()
    assert national.text_zh.endswith("（统计汇总，无需核实）。")
    if "region" in result.column_names:  # the model breaks its result down by province
        assert len(findings.lines) > 1
        assert sum(line.subjects for line in findings.lines[:-1]) == persons


def test_data_quality_fixture_is_a_table_per_node_not_a_sentence(library):
    model = library.get("dq.dataset_quality")
    params = fixture_parameters(model)
    outputs = {node: run_model_sql(model.sql[level], fixture_inputs(model, level), params)
               for node, level in (("gd", "province"), ("deaths", "registry"))}
    inputs = {node: fixture_inputs(model, level)["dataset_quality"].to_pylist()
              for node, level in (("gd", "province"), ("deaths", "registry"))}
    result = run_federated(model, outputs)
    findings = build_findings(result, provenance(model), model, PLACES)

    assert findings.style == "table" and findings.lines == ()
    rows = {row.key: row for row in findings.summary}
    assert list(rows) == ["gd", "deaths"]  # provinces first
    for node, facts in inputs.items():
        per_dataset = {f["dataset"]: f for f in facts}  # facts repeat on each column row
        row = rows[node]
        assert row.size == len(per_dataset)
        assert row.values["rows"] == sum(f["rows"] for f in per_dataset.values())
        assert row.values["lag_days"] == max(
            (params["as_of"] - f["data_as_of"]).days for f in per_dataset.values())
        invalid = [f["invalid_ids"] for f in per_dataset.values() if f["invalid_ids"] is not None]
        assert row.values.get("invalid_ids") == (sum(invalid) if invalid else None)
    zh, en = rows["gd"].text(findings.columns)
    assert zh.startswith("广东省：数据集数 ") and "记录数" in zh and "最大滞后天数" in zh
    assert en.startswith("Guangdong: datasets ") and "invalid IDs" in en
    assert {row.key for row in findings.detail} == {"gd", "deaths"}


def test_not_enrolled_counts_the_persons_not_enrolled_once_per_region(library):
    """SA-03's finding is the number NOT enrolled, read from each region's total row (the
    programme rows would count a person in two programmes twice), not the target persons."""
    from analyses._fixtures import run_level_fixture

    model = library.get("assistance.not_enrolled")
    output = run_level_fixture(model, "province")
    result = run_federated(model, {"gd": output})
    totals = [r for r in result.to_pylist() if r["program"] is None]
    findings = build_findings(result, provenance(model), model, PLACES)
    national = findings.lines[-1]
    assert national.subjects == sum(r["not_enrolled"] for r in totals)
    assert national.subjects < sum(r["target_persons"] for r in totals)
    assert f"涉及{national.subjects}人（" in national.text_zh  # persons, not person-counts
