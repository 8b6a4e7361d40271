"""The linkage models pass their fixtures, through the runner and the CLI, and the linkage
checks of the fixture runner can fail: readable tokens, the join, the resolve step."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner

from analyses import FixtureError, check_fixtures, load_model, run_fixtures
from analyses._fixtures import (
    FIXTURE_KEY,
    fixture_inputs,
    fixture_nodes,
    fixture_stages,
    run_level_fixture,
)
from analyses._fixtures_linkage import link, token_dictionary
from analyses._linkage import install_token_function
from analyses.cli import analyses
from tests.linkage_models.conftest import LINKAGE_MODELS, edit, model_folder

MODELS = {model_id: load_model(model_folder(model_id)) for model_id in LINKAGE_MODELS}


def problems(folder) -> list[str]:
    return [f"{r.stage}: {p}" for r in run_fixtures(load_model(folder)) for p in r.problems]


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
    model = MODELS[model_id]
    check_fixtures(model)
    results = run_fixtures(model)
    assert [r.stage for r in results] == fixture_stages(model)
    assert all(r.ok and r.rows > 0 for r in results)
    assert any(r.stage.startswith("resolve:") for r in results)


def test_the_cli_runs_the_linkage_fixtures():
    result = CliRunner().invoke(analyses, ["test", "pension.cross_province_duplicate", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report[0]["ok"]
    assert [s["stage"] for s in report[0]["stages"]] == [
        "province", "province_b", "province_c", "resolve:province", "resolve:province_b",
        "resolve:province_c", "combine"]


def test_every_linkage_model_passes_through_the_cli():
    for model_id in LINKAGE_MODELS:
        result = CliRunner().invoke(analyses, ["test", model_id])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("ok  ")
        assert "resolve:province (" in result.output


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
    inputs = {node: fixture_inputs(model, level, node) for node, level in nodes.items()}
    dictionary = token_dictionary(inputs.values(), FIXTURE_KEY)
    bad = {(row["id_no"], row["id_status"]) for tables in inputs.values()
           for table in tables.values() for row in table.select(["id_no", "id_status"]).to_pylist()
           if row["id_status"] not in ("valid", "upgraded")}
    assert bad, f"{model_id}'s fixtures should plant an invalid ID"
    for id_no, _ in bad:
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
    nodes = fixture_nodes(model)
    outputs = {node: run_level_fixture(model, level, node) for node, level in nodes.items()}
    returned, summary = link(model, outputs, nodes)
    assert set(returned) == set(nodes)
    for node, table in returned.items():
        own = set(zip(outputs[node]["token"].to_pylist(), outputs[node]["period"].to_pylist(),
                      strict=True))
        rows = set(zip(table["token"].to_pylist(), table["period"].to_pylist(), strict=True))
        assert rows and rows <= own
        assert table.schema.field("other_nodes").type == pa.int32()
    assert dict(zip(summary["node_id"].to_pylist(), summary["matched"].to_pylist(),
                    strict=True)) == {"province": 3, "province_b": 3, "province_c": 1}


def test_registry_attributes_return_the_death_date_to_the_province_only():
    model = MODELS["pension.paid_after_death"]
    nodes = fixture_nodes(model)
    outputs = {node: run_level_fixture(model, level, node) for node, level in nodes.items()}
    returned, summary = link(model, outputs, nodes)
    assert list(returned) == ["province"]
    table = returned["province"]
    assert table.column_names == ["token", "death_date"]
    assert table.schema.field("death_date").type == pa.date32()
    assert set(table["token"].to_pylist()) <= set(outputs["province"]["token"].to_pylist())
    assert table.num_rows == 9 and table["death_date"].null_count == 0
    matched = dict(zip(summary["node_id"].to_pylist(), summary["matched"].to_pylist(),
                       strict=True))
    assert matched == {"province": 9, "registry": 9}


def test_expected_files_are_written_with_id_numbers(copy_model):
    folder = copy_model("pension.paid_after_death")
    edit(folder / "fixtures" / "expected_resolve.csv",
         "11010119460202177X,11010119460202177X,,2600.00,2024-10-01",
         "11010119460202177X,11010119460202177X,,2600.01,2024-10-01")
    found = problems(folder)
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
    found = problems(folder)
    assert any(p.startswith("registry: ") and "carry id_status" in p for p in found)
    assert any(p.startswith("resolve:province: not run") for p in found)


def test_a_token_not_made_by_fa_token_is_reported(copy_model):
    folder = copy_model("pension.paid_after_death")
    edit(folder / "registry.sql", "SELECT fa_token(id_no, id_status) AS token",
         "SELECT sha256(id_no) AS token")
    found = problems(folder)
    assert any(p.startswith("registry: ") and "not fa_token(id, id_status) of any ID" in p
               for p in found)


def test_a_null_token_is_reported(copy_model):
    folder = copy_model("pension.cross_province_duplicate")
    edit(folder / "province.sql", "WHERE token IS NOT NULL AND net > 0", "WHERE net > 0")
    found = problems(folder)
    assert any(p.startswith("province_c: ") and "NULL token" in p for p in found)


def test_a_resolve_line_for_a_token_not_given_is_reported(copy_model):
    folder = copy_model("medical.settlement_after_death")
    edit(folder / "resolve.sql", "JOIN death d ON fa_token(s.id_no, s.id_status) = d.token",
         "JOIN death d ON true")
    edit(folder / "resolve.sql", "d.token,", "fa_token(s.id_no, s.id_status) AS token,")
    found = problems(folder)
    assert any("for tokens the node was not given" in p for p in found)


def test_resolve_must_start_with_the_case_line_columns(copy_model):
    folder = copy_model("medical.settlement_after_death")
    edit(folder / "resolve.sql", "CAST(NULL AS VARCHAR) AS subject_name,", "")
    found = problems(folder)
    assert any("must start with the columns (token VARCHAR, subject_id VARCHAR, "
               "subject_name VARCHAR, amount DECIMAL(18,2))" in p for p in found)


def test_check_fixtures_raises_with_the_stage(copy_model):
    folder = copy_model("pension.cross_province_duplicate")
    edit(folder / "fixtures" / "expected_combine.csv", "ha,1", "ha,2")
    with pytest.raises(FixtureError, match="combine: .*expected row missing: ha,2"):
        check_fixtures(load_model(folder))
