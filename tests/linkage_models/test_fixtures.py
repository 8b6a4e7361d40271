"""The linkage models pass their fixtures, through the runner and the CLI, and the linkage
checks of the fixture runner can fail: readable tokens, the join, the resolve step."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from analyses import FixtureError, check_fixtures, load_model
from analyses._fixtures import FIXTURE_KEY, fixture_nodes, run_level_fixture
from analyses._fixtures_linkage import token_dictionary
from analyses._linkage import install_token_function
from tests.linkage_models.conftest import LINKAGE_MODELS
from tests.model_support import (
    assert_fixtures_pass,
    cli_test_output,
    cli_test_report,
    edit,
    fixture_problems,
    fixture_tables,
    invalid_ids,
    linked_fixtures,
    load,
    matched_by_node,
)

MODELS = {model_id: load(model_id) for model_id in LINKAGE_MODELS}


def token_of(id_no: str, status: str = "valid") -> str | None:
    con = duckdb.connect(":memory:")
    try:
        install_token_function(con, FIXTURE_KEY)
        return con.execute("SELECT fa_token($id, $status)", {"id": id_no, "status": status}
                           ).fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("model_id", LINKAGE_MODELS)
def test_model_passes_its_fixtures(model_id):
    results = assert_fixtures_pass(MODELS[model_id])
    assert any(r.stage.startswith("resolve:") for r in results)


def test_the_cli_runs_the_linkage_fixtures():
    report = cli_test_report("pension.cross_province_duplicate")
    assert [s["stage"] for s in report["stages"]] == [
        "province", "province_b", "province_c", "resolve:province", "resolve:province_b",
        "resolve:province_c", "combine"]


def test_every_linkage_model_passes_through_the_cli():
    for model_id in LINKAGE_MODELS:
        assert "resolve:province (" in cli_test_output(model_id)


def test_cross_node_fixtures_have_three_province_nodes():
    nodes = fixture_nodes(MODELS["pension.cross_province_duplicate"])
    assert nodes == {"province": "province", "province_b": "province",
                     "province_c": "province"}
    assert fixture_nodes(MODELS["pension.paid_after_death"]) == {"province": "province",
                                                                 "registry": "registry"}


@pytest.mark.parametrize("model_id", LINKAGE_MODELS)
def test_invalid_ids_are_never_tokenised(model_id):
    """Every fixture plants an ID with a failing status: it yields no token anywhere."""
    model = MODELS[model_id]
    nodes = fixture_nodes(model)
    dictionary = token_dictionary(fixture_tables(model).values(), FIXTURE_KEY)
    bad = invalid_ids(model)
    assert bad, f"{model_id}'s fixtures should plant an invalid ID"
    for id_no in bad:
        assert id_no not in dictionary.values()
        as_if_valid = token_of(id_no)
        for node, level in nodes.items():
            assert as_if_valid not in run_level_fixture(model, level, node)["token"].to_pylist()


def test_upgraded_ids_are_tokenised():
    model = MODELS["pension.cross_province_duplicate"]
    sent = run_level_fixture(model, "province", "province_b")["token"].to_pylist()
    assert token_of("370211195403184294", "upgraded") in sent


def test_each_node_gets_back_only_its_own_tokens():
    model = MODELS["pension.cross_province_duplicate"]
    outputs, returned, summary = linked_fixtures(model)
    assert set(returned) == set(fixture_nodes(model))
    for node, table in returned.items():
        own = set(zip(outputs[node]["token"].to_pylist(), outputs[node]["period"].to_pylist(),
                      strict=True))
        rows = set(zip(table["token"].to_pylist(), table["period"].to_pylist(), strict=True))
        assert rows and rows <= own
        assert table.schema.field("other_nodes").type == pa.int32()
    assert matched_by_node(summary) == {"province": 3, "province_b": 3, "province_c": 1}


def test_registry_attributes_return_the_death_date_to_the_province_only():
    outputs, returned, summary = linked_fixtures(MODELS["pension.paid_after_death"])
    assert list(returned) == ["province"]
    table = returned["province"]
    assert table.column_names == ["token", "death_date"]
    assert table.schema.field("death_date").type == pa.date32()
    assert set(table["token"].to_pylist()) <= set(outputs["province"]["token"].to_pylist())
    assert table.num_rows == 9 and table["death_date"].null_count == 0
    assert matched_by_node(summary) == {"province": 9, "registry": 9}


def test_expected_files_are_written_with_id_numbers(copy_model):
    folder = copy_model("pension.paid_after_death")
    edit(folder / "fixtures" / "expected_resolve.csv",
         "11010119460202177X,11010119460202177X,,2600.00,2024-10-01",
         "11010119460202177X,11010119460202177X,,2600.01,2024-10-01")
    found = fixture_problems(folder)
    assert any("expected row missing: 11010119460202177X,11010119460202177X,,2600.01" in p
               for p in found)
    assert any(p.startswith("resolve:province: ") and "unexpected row returned: "
               "11010119460202177X,11010119460202177X,,2600.00" in p for p in found)


def test_a_linkage_fixture_without_id_status_fails(copy_model):
    folder = copy_model("medical.settlement_after_death")
    path = folder / "fixtures" / "registry" / "death_record.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(",".join(v for i, v in enumerate(line.split(",")) if i != 1)
                              for line in lines) + "\n", encoding="utf-8")
    found = fixture_problems(folder)
    assert any(p.startswith("registry: ") and "carry id_status" in p for p in found)
    assert any(p.startswith("resolve:province: not run") for p in found)


def test_a_token_not_made_by_fa_token_is_reported(copy_model):
    folder = copy_model("pension.paid_after_death")
    edit(folder / "registry.sql", "SELECT fa_token(id_no, id_status) AS token",
         "SELECT sha256(id_no) AS token")
    found = fixture_problems(folder)
    assert any(p.startswith("registry: ") and "not fa_token(id, id_status) of any ID" in p
               for p in found)


def test_a_null_token_is_reported(copy_model):
    folder = copy_model("pension.cross_province_duplicate")
    edit(folder / "province.sql", "WHERE token IS NOT NULL AND net > 0", "WHERE net > 0")
    found = fixture_problems(folder)
    assert any(p.startswith("province_c: ") and "NULL token" in p for p in found)


def test_a_resolve_line_for_a_token_not_given_is_reported(copy_model):
    folder = copy_model("medical.settlement_after_death")
    edit(folder / "resolve.sql", "JOIN death d ON fa_token(s.id_no, s.id_status) = d.token",
         "JOIN death d ON true")
    edit(folder / "resolve.sql", "d.token,", "fa_token(s.id_no, s.id_status) AS token,")
    found = fixture_problems(folder)
    assert any("for tokens the node was not given" in p for p in found)


def test_resolve_must_start_with_the_case_line_columns(copy_model):
    folder = copy_model("medical.settlement_after_death")
    edit(folder / "resolve.sql", "CAST(NULL AS VARCHAR) AS subject_name,", "")
    found = fixture_problems(folder)
    assert any("must start with the columns (token VARCHAR, subject_id VARCHAR, "
               "subject_name VARCHAR, amount DECIMAL(18,2))" in p for p in found)


def test_check_fixtures_raises_with_the_stage(copy_model):
    folder = copy_model("pension.cross_province_duplicate")
    edit(folder / "fixtures" / "expected_combine.csv", "ha,1", "ha,2")
    with pytest.raises(FixtureError, match="combine: .*expected row missing: ha,2"):
        check_fixtures(load_model(folder))
