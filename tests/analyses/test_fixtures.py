"""Every model's fixtures pass, no local-only column leaves, and the checks can fail."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from analyses import FixtureError, check_fixtures, load_library, load_model, run_fixtures
from analyses._fixtures import fixture_inputs, run_level_fixture
from analyses.datasets import load_standard
from tests.model_support import assert_fixtures_pass, edit, fixture_problems

LIBRARY = load_library()
MODELS = LIBRARY.models()
LEVELS = [(m, level) for m in MODELS for level in m.levels]


def test_the_library_has_models():
    assert "fund.benefit_summary" in [m.id for m in MODELS]


@pytest.mark.parametrize("model", MODELS, ids=[m.id for m in MODELS])
def test_model_passes_its_fixtures(model):
    assert_fixtures_pass(model)


@pytest.mark.parametrize(("model", "level"), LEVELS, ids=[f"{m.id}-{lv}" for m, lv in LEVELS])
def test_no_local_only_column_in_the_output(model, level):
    output = run_level_fixture(model, level)
    inputs = fixture_inputs(model, level)
    for dataset in model.datasets[level]:
        local = load_standard(dataset).local_only_columns
        assert not local & set(output.column_names), f"{model.id} {level} outputs {local}"
        for column in local:
            secret = inputs[dataset][column].drop_null().cast(pa.string())
            for name in output.column_names:
                if pa.types.is_string(output[name].type):
                    leaked = pc.any(pc.is_in(output[name], value_set=secret)).as_py()
                    assert not leaked, f"{model.id} {level}: {name} carries {dataset}.{column}"


def test_a_wrong_expected_value_is_shown_as_a_diff(model_dir):
    edit(model_dir / "fixtures" / "expected_province.csv", "440000,110,2024-01-01,2,3,6150.00",
         "440000,110,2024-01-01,2,3,6150.01")
    with pytest.raises(FixtureError) as info:
        check_fixtures(load_model(model_dir))
    message = str(info.value)
    assert "expected row missing: 440000,110,2024-01-01,2,3,6150.01" in message
    assert "unexpected row returned: 440000,110,2024-01-01,2,3,6150.00" in message


def test_values_compare_by_type_not_by_text(model_dir):
    edit(model_dir / "fixtures" / "expected_combine.csv", "540.00", "540.0")
    assert fixture_problems(model_dir) == []


def test_a_leaked_id_number_is_caught(model_dir):
    edit(model_dir / "province.sql", "    scheme_code,\n    period,",
         "    min(id_no) AS scheme_code,\n    period,")
    found = fixture_problems(model_dir)
    assert any("returns values of benefit_payment.id_no" in p for p in found), found


def test_output_schema_must_match_the_manifest(model_dir):
    edit(model_dir / "province.sql", "CAST(sum(payments) AS BIGINT) AS payments",
         "CAST(sum(payments) AS INTEGER) AS payments")
    found = fixture_problems(model_dir)
    assert any("differs from [output]" in p and "payments INTEGER" in p for p in found), found


def test_a_missing_fixture_file_is_named(model_dir):
    (model_dir / "fixtures" / "expected_combine.csv").unlink()
    found = fixture_problems(model_dir)
    assert any("expected_combine.csv: no such fixture file" in p for p in found), found


def test_an_unknown_fixture_column_is_named(model_dir):
    edit(model_dir / "fixtures" / "province" / "benefit_payment.csv", "bank_acct_hash\n",
         "bank_account\n")
    found = fixture_problems(model_dir)
    assert any("benefit_payment.csv: column 'bank_account' is not expected" in p
               for p in found), found


def test_bad_fixture_parameters_fail_every_stage(model_dir):
    edit(model_dir / "fixtures" / "params.toml", "period_start = 2024-01-01",
         "period_start = 2024-01-15")
    results = run_fixtures(load_model(model_dir))
    assert all(not r.ok and "not on the 1st" in r.problems[0] for r in results)


def test_fixture_parameters_filter_the_rows(model_dir):
    """Without params.toml the December 2023 row counts, and the expected file differs."""
    (model_dir / "fixtures" / "params.toml").unlink()
    found = fixture_problems(model_dir)
    assert any("unexpected row returned: 440000,110,2023-12-01,1,1,3100.00" in p
               for p in found), found


def test_the_level_fixture_returns_the_dominance_helpers(model_dir):
    output = run_level_fixture(load_model(model_dir), "province")
    assert output.column_names[-2:] == ["amount__top1", "amount__top2"]
    tops = {(r["region"], r["scheme_code"], str(r["period"])):
            (r["amount__top1"], r["amount__top2"]) for r in output.to_pylist()}
    assert tops[("440000", "110", "2024-01-01")] == (Decimal("3200.00"), Decimal("2950.00"))
    assert tops[("440000", "110", "2024-02-01")] == (Decimal("3200.00"), None)  # one person
    assert tops[("440000", "170", "2024-02-01")] == (Decimal("180.00"), Decimal("0.00"))


def test_helpers_missing_from_the_sql_are_named(model_dir):
    edit(model_dir / "province.sql",
         ",\n    CAST(max(abs(amount), 2)[1] AS DECIMAL(38, 2)) AS amount__top1,\n"
         "    CAST(max(abs(amount), 2)[2] AS DECIMAL(38, 2)) AS amount__top2", "")
    found = fixture_problems(model_dir)
    assert any("differs from [output]" in p and "then the dominance helpers" in p
               and "amount__top1 DECIMAL(38,2)" in p for p in found), found


def test_helpers_out_of_order_are_a_schema_difference(model_dir):
    edit(model_dir / "province.sql", "AS amount__top1", "AS amount__topx")
    edit(model_dir / "province.sql", "AS amount__top2", "AS amount__top1")
    edit(model_dir / "province.sql", "AS amount__topx", "AS amount__top2")
    found = fixture_problems(model_dir)
    assert any("differs from [output]" in p for p in found), found


def test_helpers_without_dominance_are_undeclared_columns(model_dir):
    edit(model_dir / "manifest.toml", "dominance = true\n", "")
    found = fixture_problems(model_dir)
    assert any("differs from [output]" in p and "amount__top1" in p for p in found), found


def test_expected_province_must_list_the_helpers(model_dir):
    path = model_dir / "fixtures" / "expected_province.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(",".join(line.split(",")[:6]) for line in lines) + "\n",
                    encoding="utf-8")
    found = fixture_problems(model_dir)
    assert any("column 'amount__top1' is missing" in p for p in found), found


def test_a_wrong_helper_value_is_shown_as_a_diff(model_dir):
    edit(model_dir / "fixtures" / "expected_province.csv", "6150.00,3200.00,2950.00",
         "6150.00,3200.00,2800.00")
    found = fixture_problems(model_dir)
    assert any("expected row missing: 440000,110,2024-01-01,2,3,6150.00,3200.00,2800.00" in p
               for p in found), found


def test_helper_values_the_engine_would_refuse_are_named(model_dir):
    # A second-largest contribution above the largest: the node would refuse the output.
    edit(model_dir / "province.sql", "max(abs(amount), 2)[2] AS", "max(abs(amount), 2)[1] + 1 AS")
    found = fixture_problems(model_dir)
    assert any("amount__top1 = 3200.00, amount__top2 = 3201.00" in p and "largest first" in p
               for p in found), found


def test_the_combine_fixture_never_sees_the_helpers(model_dir):
    header = (model_dir / "fixtures" / "partials.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "__top" not in header
    path = model_dir / "fixtures" / "partials.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",amount__top1"] + [line + ",1.00" for line in lines[1:]])
                    + "\n", encoding="utf-8")
    found = fixture_problems(model_dir)
    assert any("column 'amount__top1' is not expected here" in p for p in found), found
