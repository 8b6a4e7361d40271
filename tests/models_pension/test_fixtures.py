"""The local pension models pass their fixtures, through the runner and the CLI, and the
fixtures pin what the rules must leave alone: changing a rule makes them fail."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from analyses import load_model, run_fixtures
from analyses._fixtures import (
    FIXTURE_KEY,
    fixture_inputs,
    fixture_nodes,
    fixture_parameters,
    fixture_stages,
    run_level_fixture,
    run_linkage_sql,
)
from analyses._fixtures_linkage import link, token_dictionary
from analyses._linkage import LOCAL
from analyses.cli import analyses
from tests.models_pension.conftest import PENSION_MODELS, edit, model_folder

MODELS = {model_id: load_model(model_folder(model_id)) for model_id in PENSION_MODELS}


def problems(folder) -> list[str]:
    return [f"{r.stage}: {p}" for r in run_fixtures(load_model(folder)) for p in r.problems]


def resolved_ids(model_id: str) -> set[str]:
    """The ID numbers with case lines in the model's expected resolve file."""
    path = model_folder(model_id) / "fixtures" / "expected_resolve.csv"
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return {line.split(",")[1] for line in lines}


@pytest.mark.parametrize("model_id", PENSION_MODELS)
def test_model_passes_its_fixtures(model_id):
    model = MODELS[model_id]
    results = run_fixtures(model)
    assert [r.stage for r in results] == fixture_stages(model) == [
        "province", "resolve:province", "combine"]
    assert all(r.ok and r.rows > 0 for r in results), [r.problems for r in results]


@pytest.mark.parametrize("model_id", PENSION_MODELS)
def test_the_cli_runs_the_fixtures(model_id):
    result = CliRunner().invoke(analyses, ["test", model_id, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report[0]["ok"]
    assert [s["stage"] for s in report[0]["stages"]] == [
        "province", "resolve:province", "combine"]


@pytest.mark.parametrize("model_id", PENSION_MODELS)
def test_the_model_is_local_and_releases_tokens_only(model_id):
    model = MODELS[model_id]
    assert model.linkage.pattern == LOCAL and not model.linkage.shares_key
    assert [(c.name, c.role) for c in model.output.columns] == [("token", "token")]
    assert model.levels == ("province",)
    assert all(p.default is not None for p in model.parameters), "the demo needs defaults"
    assert model.problem_types and model.legal_basis and model.notes


@pytest.mark.parametrize("model_id", PENSION_MODELS)
def test_the_province_gets_back_its_own_tokens_and_opens_a_case_for_each(model_id):
    model = MODELS[model_id]
    nodes = fixture_nodes(model)
    outputs = {node: run_level_fixture(model, level, node) for node, level in nodes.items()}
    returned, summary = link(model, outputs, nodes)
    assert set(returned["province"]["token"].to_pylist()) == set(
        outputs["province"]["token"].to_pylist())
    assert summary["matched"].null_count == summary.num_rows
    dictionary = token_dictionary([fixture_inputs(model, "province")], FIXTURE_KEY)
    sent = {dictionary[t] for t in outputs["province"]["token"].to_pylist()}
    assert sent == resolved_ids(model_id)


@pytest.mark.parametrize("model_id", PENSION_MODELS)
def test_invalid_ids_are_never_tokenised(model_id):
    """Every fixture plants a person the rule would flag under an invalid ID."""
    model = MODELS[model_id]
    inputs = fixture_inputs(model, "province")
    bad = {row["id_no"] for table in inputs.values()
           for row in table.select(["id_no", "id_status"]).to_pylist()
           if row["id_status"] not in ("valid", "upgraded")}
    assert bad
    assert not bad & resolved_ids(model_id)
    dictionary = token_dictionary([inputs], FIXTURE_KEY)
    assert not bad & set(dictionary.values())


def test_dual_scheme_min_months_leaves_out_short_overlaps(copy_model):
    folder = copy_model("pension.dual_scheme")
    edit(folder / "fixtures" / "params.toml", "period_end = 2024-12-01",
         "period_end = 2024-12-01\nmin_months = 2")
    found = problems(folder)
    # A08 and A11 overlap one month only: no longer flagged.
    for id_no in ("440105194602020816", "440103195406061110"):
        assert any(p.startswith("province: ") and f"expected row missing: {id_no}" in p
                   for p in found)
    assert not any("unexpected row" in p for p in found)


def test_dual_scheme_counts_the_net_month(copy_model):
    """Without netting, the transfer month of a resident pensioner who moved to the
    employee scheme would be flagged."""
    folder = copy_model("pension.dual_scheme")
    edit(folder / "province.sql", "sum(amount) FILTER (WHERE scheme_code = '170')",
         "max(amount) FILTER (WHERE scheme_code = '170')")
    found = problems(folder)
    assert any("unexpected row returned: 440105195510150319" in p for p in found)


def test_payroll_model_leaves_village_cadres_alone(copy_model):
    folder = copy_model("pension.payroll_staff_resident_pension")
    edit(folder / "province.sql", "AND staffing_type <> '50'", "")
    found = problems(folder)
    assert any(p.startswith("province: ") and
               "unexpected row returned: 440106196005010252" in p for p in found)


def test_early_retirement_ages_are_parameters(copy_model):
    folder = copy_model("pension.early_retirement")
    edit(folder / "fixtures" / "params.toml", "period_end = 2024-12-01",
         "period_end = 2024-12-01\nfemale_normal_age = 55")
    found = problems(folder)
    # C06, a woman of 120 who retired normally at 52: flagged when women's normal age is 55.
    assert any(p.startswith("province: ") and
               "unexpected row returned: 440103197104040620" in p for p in found)


def test_early_retirement_reads_the_gender_from_the_id_when_missing(copy_model):
    folder = copy_model("pension.early_retirement")
    edit(folder / "province.sql",
         "WHEN id_status IN ('valid', 'upgraded') THEN CAST(substr(id_no, 17, 1) AS INTEGER) "
         "% 2 = 1", "WHEN false THEN true")
    found = problems(folder)
    assert any("expected row missing: 440104196609091230" in p for p in found)


def test_early_retirement_lines_carry_the_employer_cluster():
    model = MODELS["pension.early_retirement"]
    nodes = fixture_nodes(model)
    outputs = {node: run_level_fixture(model, level, node) for node, level in nodes.items()}
    returned, _ = link(model, outputs, nodes)
    tables = {**fixture_inputs(model, "province"), "returned": returned["province"]}
    lines, _ = run_linkage_sql(model.sql["resolve"], tables, fixture_parameters(model),
                               FIXTURE_KEY)
    by_employer = {}
    for row in lines.to_pylist():
        by_employer.setdefault(row["employer_id"], set()).add(
            (row["employer_cases"], row["employer_retirees"], row["employer_early_retirements"]))
    assert by_employer == {"E44010000001": {(5, 6, 2)}, "E44010000002": {(2, 4, 1)},
                           "E44010000004": {(2, 2, 1)}, None: {(None, None, None)}}
