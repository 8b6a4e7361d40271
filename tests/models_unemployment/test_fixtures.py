"""The two UNE-01 models pass their fixtures, through the runner and the CLI, and their
parameters change what they flag the way their documentation says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pytest

from analyses._fixtures import fixture_nodes
from analyses._fixtures_linkage import receiving_nodes
from tests.model_support import (
    assert_fixtures_pass,
    cli_test_output,
    invalid_ids,
    linked_fixtures,
    load,
    matched_by_node,
    run_flow,
)

WHILE_EMPLOYED = "unemployment.benefit_while_employed"
AFTER_DEATH = "unemployment.benefit_after_death"
MODELS = {model_id: load(model_id) for model_id in (WHILE_EMPLOYED, AFTER_DEATH)}
#: Persons of the benefit_while_employed fixtures (see its fixtures/README.md).
FINAL_MONTH_OF_OLD_JOB = "320104197807221187"  # J02
JOB_ENDING_IN_SECOND_SPELL = "320114198808081531"  # J07
REEMPLOYED_AFTER_WINDOW = "320113199511111224"  # J14


def province_flow(model_id: str, overrides: Mapping[str, object] | None = None
                  ) -> tuple[dict[str, set[str]], list[dict]]:
    """Runs a model's fixtures through node SQL, join and resolve with parameter overrides.

    Returns the ID numbers each node released and the province's case lines, with
    subject_id as the ID number (see `tests.model_support.run_flow`).
    """
    released, lines = run_flow(MODELS[model_id], overrides)
    return released, lines["province"]


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_model_passes_its_fixtures(model_id):
    model = MODELS[model_id]
    assert_fixtures_pass(model)
    assert receiving_nodes(model, fixture_nodes(model)) == ["province"]


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_the_cli_runs_the_fixtures(model_id):
    assert "resolve:province (" in cli_test_output(model_id)


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_invalid_ids_are_never_tokenised(model_id):
    """Each fixture plants an ID with a failing status that the rule would otherwise flag."""
    bad = invalid_ids(MODELS[model_id])
    assert bad, f"{model_id}'s fixtures should plant an invalid ID"
    released, lines = province_flow(model_id)
    assert not bad & set().union(*released.values())
    assert not bad & {line["subject_id"] for line in lines}


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_the_defaults_run_nationwide(model_id):
    """The demo runs every model with its defaults: no parameter is required."""
    model = MODELS[model_id]
    assert all(not p.required for p in model.parameters)
    bound = model.bind_parameters({})
    assert str(bound["period_start"]) == "1990-01-01" and str(bound["period_end"]) == "2099-12-01"


def test_the_two_models_cover_une01_together():
    for model_id, other in ((WHILE_EMPLOYED, AFTER_DEATH), (AFTER_DEATH, WHILE_EMPLOYED)):
        assert MODELS[model_id].method_code == "UNE-01"
        assert other in MODELS[model_id].notes
    assert MODELS[WHILE_EMPLOYED].linkage.pattern == "local"
    assert MODELS[AFTER_DEATH].linkage.pattern == "registry_attributes"
    assert MODELS[WHILE_EMPLOYED].datasets == {"province": ("benefit_payment", "contribution")}


def test_without_grace_the_old_jobs_final_month_is_flagged():
    default, _ = province_flow(WHILE_EMPLOYED)
    strict, lines = province_flow(WHILE_EMPLOYED, {"grace_months": 0})
    assert strict["province"] - default["province"] == {FINAL_MONTH_OF_OLD_JOB,
                                                        JOB_ENDING_IN_SECOND_SPELL}
    first_months = [line for line in lines if line["subject_id"] == FINAL_MONTH_OF_OLD_JOB]
    assert [(line["month_of_spell"], line["reason"]) for line in first_months] == \
        [(1, "EMPLOYED")]


def test_the_window_bounds_the_flagged_months():
    wide, lines = province_flow(WHILE_EMPLOYED, {"period_end": dt.date(2025, 12, 1)})
    default, _ = province_flow(WHILE_EMPLOYED)
    assert wide["province"] - default["province"] == {REEMPLOYED_AFTER_WINDOW}
    assert {str(line["period"]) for line in lines
            if line["subject_id"] == REEMPLOYED_AFTER_WINDOW} == {"2025-01-01", "2025-02-01"}


def test_each_month_is_one_line_whatever_its_reasons():
    _, lines = province_flow(WHILE_EMPLOYED)
    keys = [(line["subject_id"], line["period"]) for line in lines]
    assert len(keys) == len(set(keys))
    both = [line for line in lines if line["reason"] == "EMPLOYED+RECEIVING_PENSION"]
    assert len(both) == 1 and both[0]["employer_ids"] == "E013"
    for line in lines:
        assert line["person_amount"] == sum(other["amount"] for other in lines
                                            if other["token"] == line["token"])


@pytest.mark.parametrize(("lag", "priorities"), [(0, {"A"}), (5, {"B"}), (2, {"A", "B"})])
def test_priority_follows_lag_months(lag, priorities):
    _, lines = province_flow(AFTER_DEATH, {"lag_months": lag})
    assert {line["priority"] for line in lines} == priorities
    assert all(line["period"] > line["death_date"] for line in lines)


def test_only_the_registry_sends_death_dates_and_leads_exceed_cases():
    outputs, returned, summary = linked_fixtures(MODELS[AFTER_DEATH])
    assert outputs["province"]["death_date"].null_count == outputs["province"].num_rows
    leads = set(returned["province"]["token"].to_pylist())
    _, lines = province_flow(AFTER_DEATH)
    assert len({line["token"] for line in lines}) == 4 < len(leads) == 9
    assert matched_by_node(summary) == {"province": 9, "registry": 9}
