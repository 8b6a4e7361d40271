"""The local pension models pass their fixtures, through the runner and the CLI, and the
fixtures pin what the rules must leave alone: changing a rule makes them fail."""

from __future__ import annotations

import pytest

from analyses._fixtures import FIXTURE_KEY, fixture_inputs
from analyses._fixtures_linkage import token_dictionary
from analyses._linkage import LOCAL
from tests.model_support import (
    assert_fixtures_pass,
    cli_test_report,
    edit,
    fixture_problems,
    invalid_ids,
    linked_fixtures,
    load,
    model_folder,
    run_flow,
)
from tests.models_pension.conftest import PENSION_MODELS

MODELS = {model_id: load(model_id) for model_id in PENSION_MODELS}


def resolved_ids(model_id: str) -> set[str]:
    """The ID numbers with case lines in the model's expected resolve file."""
    path = model_folder(model_id) / "fixtures" / "expected_resolve.csv"
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return {line.split(",")[1] for line in lines}


@pytest.mark.parametrize("model_id", PENSION_MODELS)
def test_model_passes_its_fixtures(model_id):
    results = assert_fixtures_pass(MODELS[model_id])
    assert [r.stage for r in results] == ["province", "resolve:province", "combine"]


@pytest.mark.parametrize("model_id", PENSION_MODELS)
def test_the_cli_runs_the_fixtures(model_id):
    report = cli_test_report(model_id)
    assert [s["stage"] for s in report["stages"]] == [
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
    outputs, returned, summary = linked_fixtures(model)
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
    bad = invalid_ids(model)
    assert bad
    assert not bad & resolved_ids(model_id)
    dictionary = token_dictionary([fixture_inputs(model, "province")], FIXTURE_KEY)
    assert not bad & set(dictionary.values())


def test_dual_scheme_min_months_leaves_out_short_overlaps(copy_model):
    folder = copy_model("pension.dual_scheme")
    edit(folder / "fixtures" / "params.toml", "period_end = 2024-12-01",
         "period_end = 2024-12-01\nmin_months = 2")
    found = fixture_problems(folder)
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
    found = fixture_problems(folder)
    assert any("unexpected row returned: 440105195510150319" in p for p in found)


def test_payroll_model_leaves_village_cadres_alone(copy_model):
    folder = copy_model("pension.payroll_staff_resident_pension")
    edit(folder / "province.sql", "AND staffing_type <> '50'", "")
    found = fixture_problems(folder)
    assert any(p.startswith("province: ") and
               "unexpected row returned: 440106196005010252" in p for p in found)


def test_early_retirement_ages_are_parameters(copy_model):
    folder = copy_model("pension.early_retirement")
    edit(folder / "fixtures" / "params.toml", "period_end = 2024-12-01",
         "period_end = 2024-12-01\nfemale_normal_age = 55")
    found = fixture_problems(folder)
    # C06, a woman of 120 who retired normally at 52: flagged when women's normal age is 55.
    assert any(p.startswith("province: ") and
               "unexpected row returned: 440103197104040620" in p for p in found)


def test_early_retirement_reads_the_gender_from_the_id_when_missing(copy_model):
    folder = copy_model("pension.early_retirement")
    edit(folder / "province.sql",
         "WHEN id_status IN ('valid', 'upgraded') THEN CAST(substr(id_no, 17, 1) AS INTEGER) "
         "% 2 = 1", "WHEN false THEN true")
    found = fixture_problems(folder)
    assert any("expected row missing: 440104196609091230" in p for p in found)


def test_early_retirement_lines_carry_the_employer_cluster():
    _, lines = run_flow(MODELS["pension.early_retirement"])
    by_employer = {}
    for row in lines["province"]:
        by_employer.setdefault(row["employer_id"], set()).add(
            (row["employer_cases"], row["employer_retirees"], row["employer_early_retirements"]))
    assert by_employer == {"E44010000001": {(5, 6, 2)}, "E44010000002": {(2, 4, 1)},
                           "E44010000004": {(2, 2, 1)}, None: {(None, None, None)}}
