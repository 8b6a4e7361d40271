"""The two UNE-01 models pass their fixtures, through the runner and the CLI, and their
parameters change what they flag the way their documentation says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pytest
from click.testing import CliRunner

from analyses import check_fixtures, load_model, run_fixtures
from analyses._fixtures import (
    FIXTURE_KEY,
    fixture_inputs,
    fixture_nodes,
    fixture_parameters,
    fixture_stages,
    run_linkage_sql,
)
from analyses._fixtures_linkage import link, receiving_nodes, token_dictionary
from analyses.cli import analyses
from analyses.library import DEFAULT_ROOT

WHILE_EMPLOYED = "unemployment.benefit_while_employed"
AFTER_DEATH = "unemployment.benefit_after_death"
MODELS = {model_id: load_model(DEFAULT_ROOT / "unemployment" / model_id.split(".")[1])
          for model_id in (WHILE_EMPLOYED, AFTER_DEATH)}
#: Persons of the benefit_while_employed fixtures (see its fixtures/README.md).
FINAL_MONTH_OF_OLD_JOB = "320104197807221187"  # J02
JOB_ENDING_IN_SECOND_SPELL = "320114198808081531"  # J07
REEMPLOYED_AFTER_WINDOW = "320113199511111224"  # J14


def run_flow(model_id: str, overrides: Mapping[str, object] | None = None
             ) -> tuple[dict[str, set[str]], list[dict]]:
    """Runs a model's fixtures through node SQL, join and resolve with parameter overrides.

    Returns the ID numbers each node released (tokens read back through the fixture
    dictionary) and the province's case lines, with subject_id as the ID number.
    """
    model = MODELS[model_id]
    params = model.bind_parameters({**fixture_parameters(model), **(overrides or {})})
    nodes = fixture_nodes(model)
    inputs = {node: fixture_inputs(model, level, node) for node, level in nodes.items()}
    dictionary = token_dictionary(inputs.values(), FIXTURE_KEY)
    outputs = {node: run_linkage_sql(model.node_sql[level], inputs[node], params, FIXTURE_KEY)[0]
               for node, level in nodes.items()}
    returned, _ = link(model, outputs, nodes)
    lines, _ = run_linkage_sql(model.sql["resolve"],
                               {**inputs["province"], "returned": returned["province"]},
                               params, FIXTURE_KEY)
    released = {node: {dictionary[t] for t in table["token"].to_pylist()}
                for node, table in outputs.items()}
    return released, lines.to_pylist()


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_model_passes_its_fixtures(model_id):
    model = MODELS[model_id]
    check_fixtures(model)
    results = run_fixtures(model)
    assert [r.stage for r in results] == fixture_stages(model)
    assert all(r.ok and r.rows > 0 for r in results)
    assert receiving_nodes(model, fixture_nodes(model)) == ["province"]


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_the_cli_runs_the_fixtures(model_id):
    result = CliRunner().invoke(analyses, ["test", model_id])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok  ")
    assert "resolve:province (" in result.output


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_invalid_ids_are_never_tokenised(model_id):
    """Each fixture plants an ID with a failing status that the rule would otherwise flag."""
    model = MODELS[model_id]
    nodes = fixture_nodes(model)
    inputs = [fixture_inputs(model, level, node) for node, level in nodes.items()]
    bad = {row["id_no"] for tables in inputs for table in tables.values()
           for row in table.select(["id_no", "id_status"]).to_pylist()
           if row["id_status"] not in ("valid", "upgraded")}
    assert bad, f"{model_id}'s fixtures should plant an invalid ID"
    released, lines = run_flow(model_id)
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
    default, _ = run_flow(WHILE_EMPLOYED)
    strict, lines = run_flow(WHILE_EMPLOYED, {"grace_months": 0})
    assert strict["province"] - default["province"] == {FINAL_MONTH_OF_OLD_JOB,
                                                        JOB_ENDING_IN_SECOND_SPELL}
    first_months = [line for line in lines if line["subject_id"] == FINAL_MONTH_OF_OLD_JOB]
    assert [(line["month_of_spell"], line["reason"]) for line in first_months] == \
        [(1, "EMPLOYED")]


def test_the_window_bounds_the_flagged_months():
    wide, lines = run_flow(WHILE_EMPLOYED, {"period_end": dt.date(2025, 12, 1)})
    default, _ = run_flow(WHILE_EMPLOYED)
    assert wide["province"] - default["province"] == {REEMPLOYED_AFTER_WINDOW}
    assert {str(line["period"]) for line in lines
            if line["subject_id"] == REEMPLOYED_AFTER_WINDOW} == {"2025-01-01", "2025-02-01"}


def test_each_month_is_one_line_whatever_its_reasons():
    _, lines = run_flow(WHILE_EMPLOYED)
    keys = [(line["subject_id"], line["period"]) for line in lines]
    assert len(keys) == len(set(keys))
    both = [line for line in lines if line["reason"] == "EMPLOYED+RECEIVING_PENSION"]
    assert len(both) == 1 and both[0]["employer_ids"] == "E013"
    for line in lines:
        assert line["person_amount"] == sum(other["amount"] for other in lines
                                            if other["token"] == line["token"])


@pytest.mark.parametrize(("lag", "priorities"), [(0, {"A"}), (5, {"B"}), (2, {"A", "B"})])
def test_priority_follows_lag_months(lag, priorities):
    _, lines = run_flow(AFTER_DEATH, {"lag_months": lag})
    assert {line["priority"] for line in lines} == priorities
    assert all(line["period"] > line["death_date"] for line in lines)


def test_only_the_registry_sends_death_dates_and_leads_exceed_cases():
    model = MODELS[AFTER_DEATH]
    nodes = fixture_nodes(model)
    params = fixture_parameters(model)
    outputs = {node: run_linkage_sql(model.node_sql[level],
                                     fixture_inputs(model, level, node), params, FIXTURE_KEY)[0]
               for node, level in nodes.items()}
    assert outputs["province"]["death_date"].null_count == outputs["province"].num_rows
    returned, summary = link(model, outputs, nodes)
    leads = set(returned["province"]["token"].to_pylist())
    _, lines = run_flow(AFTER_DEATH)
    assert len({line["token"] for line in lines}) == 4 < len(leads) == 9
    assert dict(zip(summary["node_id"].to_pylist(), summary["matched"].to_pylist(),
                    strict=True)) == {"province": 9, "registry": 9}
