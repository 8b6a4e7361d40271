"""SA-01 (assistance.household_assets) passes its fixtures, through the runner and the CLI;
its registries may each hold some of the registers only; and its parameters change what
it flags the way its documentation says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

import pytest

from analyses import load_model, run_fixtures
from analyses._fixtures import fixture_inputs, fixture_nodes
from analyses._fixtures_linkage import receiving_nodes
from analyses.datasets import load_standard
from analyses.errors import FixtureError
from tests.model_support import (
    assert_fixtures_pass,
    cli_test_output,
    copy_model_fixture,
    invalid_ids,
    linked_fixtures,
    load,
    matched_by_node,
    run_flow,
)

MODEL_ID = "assistance.household_assets"
MODEL = load(MODEL_ID)
#: The households of the fixtures that open cases with the defaults (fixtures/README.md).
CASES = {"province": {"GD01000001", "GD01000002", "GD01000004", "GD02000012", "GD03000013"},
         "province_b": {"SD01000021"}}

copy_model = copy_model_fixture()


def households(lines: Mapping[str, list[dict]]) -> dict[str, set[str]]:
    return {node: {line["subject_id"] for line in rows} for node, rows in lines.items()}


def test_model_passes_its_fixtures():
    assert_fixtures_pass(MODEL)
    assert receiving_nodes(MODEL, fixture_nodes(MODEL)) == ["province", "province_b"]


def test_the_cli_runs_the_fixtures():
    assert "registry_business (4 rows)" in cli_test_output(MODEL_ID)


def test_the_defaults_run_nationwide():
    """The demo runs every model with its defaults: no parameter is required."""
    assert all(not p.required for p in MODEL.parameters)
    bound = MODEL.bind_parameters({})
    assert str(bound["period_start"]) == "1990-01-01" and str(bound["period_end"]) == "2099-12-01"
    assert MODEL.linkage.pattern == "registry_attributes"
    assert MODEL.linkage.registry_datasets == "any"
    assert MODEL.linkage.sealed_columns(MODEL.output) == tuple(
        c.name for c in MODEL.output.by_role("attribute"))


def test_each_registry_node_holds_some_registers_the_rest_read_empty():
    nodes = fixture_nodes(MODEL)
    registries = [node for node, level in nodes.items() if level == "registry"]
    assert registries == ["registry", "registry_business", "registry_realestate"]
    for node in registries:
        tables = fixture_inputs(MODEL, "registry", node)
        assert list(tables) == list(MODEL.datasets["registry"])
        held = [name for name, table in tables.items() if table.num_rows]
        assert 0 < len(held) < len(tables), node
        for name, table in tables.items():
            columns = [c.name for c in load_standard(name).columns] + ["id_status"] \
                if load_standard(name).id_column else [c.name for c in load_standard(name).columns]
            assert table.column_names == columns, (node, name)


def test_a_registry_node_without_any_register_fails(copy_model):
    target = copy_model(MODEL_ID)
    (target / "fixtures" / "registry" / "vehicle_registration.csv").unlink()
    with pytest.raises(FixtureError, match="vehicle_registration.csv: no such fixture file"):
        fixture_inputs(load_model(target), "registry", "registry")
    assert not all(r.ok for r in run_fixtures(load_model(target)))


def test_invalid_ids_are_never_tokenised():
    """The fixtures plant invalid IDs (a roll member, a vehicle owner) that would match."""
    bad = invalid_ids(MODEL)
    assert len(bad) >= 2, "the fixtures should plant invalid IDs"
    released, lines = run_flow(MODEL)
    assert not bad & set().union(*released.values())
    assert not bad & {line["member_id_no"] for rows in lines.values() for line in rows}


def test_each_household_is_one_case_with_its_payments_at_stake():
    _, lines = run_flow(MODEL)
    assert households(lines) == CASES
    for rows in lines.values():
        for case in {line["subject_id"] for line in rows}:
            mine = [line for line in rows if line["subject_id"] == case]
            assert len({line["token"] for line in mine}) == 1, case
            paid = [line for line in mine if line["line_kind"] == "payment"]
            assert sum(line["amount"] for line in mine) == sum(line["amount"] for line in paid)
            assert {line["household_amount"] for line in mine} == \
                {sum(line["amount"] for line in paid)}
            assert all(line["amount"] == 0 for line in mine if line["line_kind"] == "asset")
    # 王六 is active in two flagged households: they still open two cases.
    gd = lines["province"]
    shared = {line["subject_id"]: line["token"] for line in gd
              if line["subject_id"] in ("GD01000002", "GD03000013")}
    assert len(set(shared.values())) == 2


def test_the_reasons_and_tallies_of_each_household():
    _, lines = run_flow(MODEL)
    tallies = {line["subject_id"]: (line["cars"], line["house_units"], line["businesses"],
                                    line["reasons"], line["household_amount"])
               for rows in lines.values() for line in rows}
    assert tallies == {
        "GD01000001": (1, 0, 0, "CAR", Decimal("6000.00")),
        "GD01000002": (1, 2, 0, "CAR+HOUSES", Decimal("6300.00")),
        "GD01000004": (0, 0, 1, "BUSINESS", Decimal("5400.00")),
        "GD02000012": (1, 0, 1, "CAR+BUSINESS", Decimal("2400.00")),
        "GD03000013": (1, 0, 0, "CAR", Decimal("2600.00")),
        "SD01000021": (1, 0, 0, "CAR", Decimal("3300.00")),
    }


@pytest.mark.parametrize(("overrides", "added", "removed"), [
    # Two dwellings are allowed: the co-owned flat and the shop no longer flag GD01000002,
    # but 王六's car still does.
    ({"max_house_units": 2}, set(), set()),
    # No exemption for motorcycles, by type or plate: 孙甲's two motorcycles count.
    ({"exempt_vehicle_types": "", "exempt_plate_types": ""}, {"GD02000006"}, set()),
    # No plate exemption: the light motorcycle registered without a vehicle type counts
    # (the one typed M21 stays exempt by its type).
    ({"exempt_plate_types": ""}, {"GD02000006"}, set()),
    # Parking spaces counted as house units: 周七's home and parking space make two.
    ({"house_usages": "10,20,50"}, {"GD02000003"}, set()),
    # A director (04) counts as running a business: 郑十's active company.
    ({"business_roles": "01,02,03,04"}, {"GD01000005"}, set()),
    # The nursing subsidy (05) tested on assets too: 蒋庚's car.
    ({"programs": "01,02,03,05"}, {"GD05000011"}, set()),
    # Only 特困 households.
    ({"programs": "03"}, set(), CASES["province"] - {"GD03000013"}),
])
def test_parameters_change_the_flagged_households(overrides, added, removed):
    _, lines = run_flow(MODEL, overrides)
    assert households(lines)["province"] == (CASES["province"] | added) - removed
    if "max_house_units" in overrides:
        row = next(line for line in lines["province"] if line["subject_id"] == "GD01000002")
        assert row["reasons"] == "CAR"


def test_the_window_bounds_the_amount_at_stake():
    _, wide = run_flow(MODEL, {"period_start": dt.date(1990, 1, 1),
                               "period_end": dt.date(2099, 12, 1)})
    amounts = {line["subject_id"]: line["household_amount"] for line in wide["province"]}
    assert amounts["GD01000001"] == Decimal("7500.00")  # December 2023 too
    assert amounts["GD02000012"] == Decimal("3200.00")  # January 2025 too
    _, narrow = run_flow(MODEL, {"period_start": dt.date(2025, 1, 1),
                                 "period_end": dt.date(2025, 12, 1)})
    amounts = {line["subject_id"]: line["household_amount"] for line in narrow["province"]}
    # Households are flagged on the current roll whatever the window; no payment, no stake.
    assert set(amounts) == CASES["province"]
    assert amounts["GD02000012"] == Decimal("800.00")
    assert amounts["GD01000001"] == Decimal("0.00")


def test_only_registries_send_assets_and_leads_exceed_cases():
    nodes = fixture_nodes(MODEL)
    outputs, returned, summary = linked_fixtures(MODEL)
    for node in ("province", "province_b"):
        assert outputs[node]["asset_type"].null_count == outputs[node].num_rows
    kinds = {node: set(outputs[node]["asset_type"].to_pylist())
             for node, level in nodes.items() if level == "registry"}
    assert kinds == {"registry": {"vehicle"}, "registry_realestate": {"real_estate"},
                     "registry_business": {"business"}}
    leads = {node: len(set(table["token"].to_pylist())) for node, table in returned.items()}
    assert leads == {"province": 10, "province_b": 2}
    assert matched_by_node(summary) == {"province": 10, "province_b": 2, "registry": 5,
                                        "registry_business": 3, "registry_realestate": 4}


@pytest.mark.parametrize(("overrides", "cars"), [
    ({"exempt_plate_types": ""}, 1),  # the untyped light motorcycle (plate 08) only
    ({"exempt_vehicle_types": ""}, 0),  # both have motorcycle plates
    ({"exempt_vehicle_types": "", "exempt_plate_types": ""}, 2),
])
def test_motorcycles_are_exempt_by_type_or_by_plate(overrides, cars):
    _, lines = run_flow(MODEL, overrides)
    counted = {line["cars"] for line in lines["province"] if line["subject_id"] == "GD02000006"}
    assert counted == ({cars} if cars else set())
