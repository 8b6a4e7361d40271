"""MED-02, its cross-province variant and MED-04 pass their fixtures (through the runner and
the CLI), and their rules react to the parameters as documented."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import pytest

from analyses._fixtures import (
    FIXTURE_KEY,
    fixture_inputs,
    fixture_nodes,
    fixture_parameters,
    run_linkage_sql,
)
from analyses._fixtures_linkage import token_dictionary
from tests.model_support import (
    assert_fixtures_pass,
    cli_test_report,
    column,
    fixture_outputs,
    fixture_tables,
    invalid_ids,
    linked_fixtures,
    load,
    matched_by_node,
)
from tests.models_medical.conftest import MEDICAL_MODELS

MODELS = {model_id: load(model_id) for model_id in MEDICAL_MODELS}
OVERLAP, CROSS, SPLIT = MEDICAL_MODELS


def flagged_ids(model, params: Mapping[str, object] | None = None,
                node: str = "province") -> set[str]:
    """The ID numbers whose tokens the node SQL of `node`'s fixtures returns, under the
    fixture parameters overridden by `params`."""
    level = fixture_nodes(model)[node]
    inputs = fixture_inputs(model, level, node)
    values = dict(fixture_parameters(model)) | dict(params or {})
    table, _ = run_linkage_sql(model.node_sql[level], inputs, model.bind_parameters(values),
                               FIXTURE_KEY)
    dictionary = token_dictionary([inputs], FIXTURE_KEY)
    return {dictionary[t] for t in table.column("token").to_pylist()}


@pytest.mark.parametrize("model_id", MEDICAL_MODELS)
def test_model_passes_its_fixtures(model_id):
    assert_fixtures_pass(MODELS[model_id])


@pytest.mark.parametrize("model_id", MEDICAL_MODELS)
def test_the_cli_runs_the_fixtures(model_id):
    report = cli_test_report(model_id)
    assert any(s["stage"].startswith("resolve:") for s in report["stages"])


def test_patterns_and_method_codes():
    assert MODELS[OVERLAP].linkage.pattern == "local"
    assert MODELS[SPLIT].linkage.pattern == "local"
    assert MODELS[CROSS].linkage.pattern == "cross_node"
    assert MODELS[CROSS].linkage.match_on == ("stay_day",)
    assert MODELS[CROSS].linkage.sealed_columns(MODELS[CROSS].output) == ()
    # The variant has a code of its own, so that nobody measures it against MED-02's
    # within-province truth.
    assert [MODELS[m].method_code for m in MEDICAL_MODELS] == ["MED-02", "MED-02b", "MED-04"]


@pytest.mark.parametrize("model_id", MEDICAL_MODELS)
def test_defaults_run_nationwide_without_parameters(model_id):
    model = MODELS[model_id]
    assert all(not p.required for p in model.parameters)
    bound = model.bind_parameters({})
    assert bound["period_start"].year == 1990 and bound["period_end"].year == 2099


@pytest.mark.parametrize("model_id", MEDICAL_MODELS)
def test_invalid_ids_are_never_tokenised(model_id):
    model = MODELS[model_id]
    bad = invalid_ids(model)
    assert bad, f"{model_id}'s fixtures should plant an invalid ID"
    dictionary = token_dictionary(fixture_tables(model).values(), FIXTURE_KEY)
    assert not bad & set(dictionary.values())
    for output in fixture_outputs(model).values():
        assert None not in set(column(output, "token"))


@pytest.mark.parametrize("model_id", [OVERLAP, SPLIT])
def test_local_models_send_one_token_per_person_and_get_their_own_back(model_id):
    model = MODELS[model_id]
    outputs, returned, summary = linked_fixtures(model)
    for table in outputs.values():
        assert table.column_names == ["token"]
        assert len(set(column(table, "token"))) == table.num_rows
    for node, table in returned.items():
        assert set(column(table, "token")) == set(column(outputs[node], "token"))
    assert column(summary, "matched") == [None] * len(fixture_nodes(model))


def test_min_overlap_days_excludes_short_overlaps():
    model = MODELS[OVERLAP]
    default = flagged_ids(model)
    assert "44030419900520012X" in default  # P11: one night in two hospitals
    two = flagged_ids(model, {"min_overlap_days": 2})
    assert two == default - {"44030419900520012X"}
    five = flagged_ids(model, {"min_overlap_days": 5})
    assert five == {"440305196204151239"}  # P01 overlaps 5 nights; the others fewer


def test_the_window_clips_overlaps():
    model = MODELS[OVERLAP]
    # P08 overlaps in December 2023 only; opening the window to 2023 finds it.
    assert "440106195909097894" not in flagged_ids(model)
    assert "440106195909097894" in flagged_ids(model, {"period_start": _month(2023, 1)})


X1, X3, X9, X10 = ("440305196105121237", "410102195208083456", "370203195607243452",
                   "410105198107079012")


def _cross_returns():
    """The cross-province fixtures' node outputs, returns, join summary, inputs and the
    dictionary token -> ID number."""
    model = MODELS[CROSS]
    inputs = fixture_tables(model)
    _, returned, summary = linked_fixtures(model)
    return returned, summary, inputs, token_dictionary(inputs.values(), FIXTURE_KEY)


def test_cross_province_returns_the_shared_nights_only():
    returned, summary, _, dictionary = _cross_returns()
    nights = {node: Counter(dictionary[t] for t in column(table, "token"))
              for node, table in returned.items()}
    assert nights == {"province": {X1: 4, X3: 5, X9: 2, X10: 2},
                      "province_b": {X1: 4, X3: 2, X9: 2},
                      "province_c": {X3: 4, X10: 2}}
    shared_by_all = [row for row in returned["province"].to_pylist()
                     if row["other_nodes"] == 2]
    assert [(dictionary[r["token"]], str(r["stay_day"])) for r in shared_by_all] == [
        (X3, "2024-05-06")]
    assert matched_by_node(summary) == {"province": 4, "province_b": 3, "province_c": 2}


def test_cross_province_min_overlap_days_counts_the_nights_of_a_stay():
    model = MODELS[CROSS]
    returned, _, inputs, dictionary = _cross_returns()
    params = model.bind_parameters(dict(fixture_parameters(model)) | {"min_overlap_days": 3})
    listed = {}
    for node, table in returned.items():
        lines, _ = run_linkage_sql(model.sql["resolve"], {**inputs[node], "returned": table},
                                   params, FIXTURE_KEY)
        listed[node] = {dictionary[t]: days for t, days in
                        zip(column(lines, "token"), column(lines, "overlap_days"), strict=True)}
    assert listed == {"province": {X1: 4, X3: 5}, "province_b": {X1: 4},
                      "province_c": {X3: 4}}


def test_max_gap_days_and_exemptions():
    model = MODELS[SPLIT]
    default = flagged_ids(model)
    assert "440304196502022228" in default  # S02: readmitted after exactly 15 days
    assert "440304196502022228" not in flagged_ids(model, {"max_gap_days": 14})
    # S03 comes back after 16 days.
    assert "440106197003033332" in flagged_ids(model, {"max_gap_days": 16})
    # Without exemptions, the chemotherapy cycles (S06) and dialysis stays (S07) are flagged.
    unexempt = flagged_ids(model, {"exempt_categories": ""})
    assert unexempt - default == {"440304195506066661", "440106194807077775"}
    only_z51 = flagged_ids(model, {"exempt_categories": " z51 "})
    assert only_z51 - default == {"440106194807077775"}


def _month(year: int, month: int):
    import datetime as dt

    return dt.date(year, month, 1)
