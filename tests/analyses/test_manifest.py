"""The manifest loader: a valid model loads, and each broken rule names its file and key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analyses import ManifestError, load_model
from analyses._toml import display_path
from analyses.datasets import load_standard
from analyses.manifest import NODE_LEVELS
from tests.model_support import copy_into, edit

M, P = "manifest.toml", "province.sql"
PERIOD_START = 'name = "period_start"\ntype = "month"'
EXTRA_PARAM = '[[parameter]]\nname = "min_amount"\ntype = "decimal"\ndefault = {}\n' \
              'description = "Smallest amount counted."\n\n[output]'

#: (case, file edited, old text, new text, key named, fragment of the message)
CASES = [
    ("unknown-key", M, 'method_code = "FUND-00"', 'method_code = "FUND-00"\ncolour = "red"',
     "colour", "not a known key"),
    ("wrong-type", M, 'version = "1.2.1"', "version = 1", "version", "must be a string"),
    ("bad-semver", M, 'version = "1.2.1"', 'version = "1.0"', "version", "semantic version"),
    ("missing-key", M, 'author_unit = "fedaudit 模型库 (fedaudit model library)"\n', "",
     "author_unit", "is missing"),
    ("id-not-folder", M, 'id = "fund.benefit_summary"', 'id = "fund.other"', "id",
     "'fund.benefit_summary'"),
    ("bad-method-code", M, 'method_code = "FUND-00"', 'method_code = "fund 0"', "method_code",
     "not a method code"),
    ("category-one-level", M, 'category = ["基金", "待遇发放汇总"]', 'category = ["基金"]',
     "category", "at least 2"),
    ("legal-basis-empty", M, "legal_basis = [", "legal_basis = []\nold_basis = [",
     "legal_basis", "at least 1"),
    ("problem-types-not-array", M, "problem_types = []", 'problem_types = "七-26"',
     "problem_types", "must be an array"),
    ("default-above-max", M, 'name = "period_end"\ntype = "month"\ndefault = 2099-12-01',
     'name = "period_end"\ntype = "month"\ndefault = 2100-01-01', "parameter[2].default",
     "2100-01-01 is above max 2099-12-01"),
    ("default-below-min", M, "default = 1990-01-01", "default = 1989-12-01",
     "parameter[1].default", "1989-12-01 is below min 1990-01-01"),
    ("default-month-not-first", M, "default = 1990-01-01", "default = 1990-01-15",
     "parameter[1].default", "not on the 1st of a month"),
    ("unknown-parameter-type", M, PERIOD_START, 'name = "period_start"\ntype = "monthly"',
     "parameter[1].type",
     "not a parameter type"),
    ("min-above-max", M, "min = 1990-01-01\nmax = 2099-12-01\ndescription = \"First",
     "min = 2099-12-01\nmax = 1990-01-01\ndescription = \"First", "parameter[1].min",
     "is above max 1990-01-01"),
    ("min-on-unordered-type", M, PERIOD_START, 'name = "period_start"\ntype = "string"',
     "parameter[1].min", "has no order"),
    ("code-without-choices", M, "[output]",
     '[[parameter]]\nname = "scheme"\ntype = "code"\ndescription = "x"\n\n[output]',
     "parameter[3].choices", "is missing"),
    ("unknown-parameter-key", M, PERIOD_START, PERIOD_START + '\nunit = "month"',
     "parameter[1].unit", "not a known key"),
    ("decimal-as-float", M, "[output]", EXTRA_PARAM.format("0.5"), "parameter[3].default",
     "as a string"),
    ("duplicate-parameter", M, 'name = "period_end"', 'name = "period_start"',
     "parameter[2].name", "declared twice"),
    ("unused-parameter", M, "[output]", EXTRA_PARAM.format('"0.50"'), "parameter[3].name",
     "not used by any SQL file"),
    ("order-unknown-name", M, '[["period_start", "period_end"]]',
     '[["period_start", "period_stop"]]', "parameter_order[1]", "not a declared parameter"),
    ("order-broken-by-defaults", M, '[["period_start", "period_end"]]',
     '[["period_end", "period_start"]]', "parameter_order[1]", "defaults break it"),
    ("unknown-dataset", M, 'province = ["benefit_payment"]', 'province = ["benefit_payments"]',
     "datasets.province[1]", "not a standard dataset"),
    ("unknown-level", M, 'province = ["benefit_payment"]', 'county = ["benefit_payment"]',
     "datasets.county", "not a node level"),
    ("sql-level-without-datasets", M, 'combine = "combine.sql"',
     'combine = "combine.sql"\nregistry = "province.sql"', "sql.registry",
     "lists no registry datasets"),
    ("resolve-on-aggregate", M, 'combine = "combine.sql"',
     'combine = "combine.sql"\nresolve = "province.sql"', "sql.resolve", "no resolve step"),
    ("sql-outside-folder", M, 'combine = "combine.sql"', 'combine = "../combine.sql"',
     "sql.combine", "inside the model folder"),
    ("unknown-sql-role", M, 'combine = "combine.sql"', 'combine = "combine.sql"\nmerge = "x"',
     "sql.merge", "not a SQL role"),
    ("output-kind", M, 'kind = "aggregate"', 'kind = "table"', "output.kind", "use one of"),
    ("aggregate-without-count", M, 'role = "count"', 'role = "measure"', "output.column",
     "exactly one 'count' column"),
    ("token-in-aggregate", M, 'role = "dimension"', 'role = "token"', "output.column[1].role",
     "an aggregate output has roles"),
    ("output-local-only-name", M, 'name = "scheme_code"', 'name = "id_no"',
     "output.column[2].name", "local-only column of benefit_payment"),
    ("count-not-integer", M, 'type = "BIGINT"\nrole = "count"', 'type = "DOUBLE"\nrole = "count"',
     "output.column[4].type", "INTEGER or BIGINT"),
    ("bad-column-type", M, 'name = "scheme_code"\ntype = "VARCHAR"',
     'name = "scheme_code"\ntype = "TEXT"', "output.column[2].type", "not a column type"),
    ("column-without-description", M,
     'description = "Benefit month (待遇所属期), the 1st of the month."\n', "",
     "output.column[3].description", "is missing"),
    ("dominance-on-count", M, 'type = "BIGINT"\nrole = "count"',
     'type = "BIGINT"\nrole = "count"\ndominance = true', "output.column[4].dominance",
     "only a measure carries dominance helpers"),
    ("dominance-on-dimension", M, 'role = "dimension"', 'role = "dimension"\ndominance = true',
     "output.column[1].dominance", "region is a dimension"),
    ("dominance-not-bool", M, "dominance = true", 'dominance = "yes"',
     "output.column[6].dominance", "must be true or false"),
    ("column-named-disclosure", M, 'name = "scheme_code"', 'name = "disclosure"',
     "output.column[2].name", "marker column the node's disclosure engine adds"),
    ("column-named-top1", M, 'name = "payments"', 'name = "payments__top1"',
     "output.column[5].name", "reserved for dominance helper columns"),
    ("column-named-top2", M, 'name = "payments"', 'name = "amount__top2"',
     "output.column[5].name", "names ending in __top2 are reserved"),
    ("sql-undeclared-parameter", P, "WHERE period", "WHERE amount > $min_amount AND period",
     "sql.province", "uses $min_amount, which is not a declared parameter"),
    ("sql-two-statements", P, "ORDER BY region, scheme_code, period\n",
     "ORDER BY region, scheme_code, period;\nSELECT 1\n", "sql.province", "holds 2 statements"),
    ("sql-not-select", P, "WITH per_person", "CREATE TABLE x AS WITH per_person", "sql.province",
     "one SELECT"),
    ("sql-syntax", P, "GROUP BY region", "GROUP BY BY region", "sql.province",
     "cannot parse"),
    ("sql-positional-parameter", P, "$period_start", "?", "sql.province", "positional"),
]


def expect_error(model_dir: Path, key: str, fragment: str) -> str:
    """Loads the model expecting a ManifestError that names the manifest and `key`."""
    with pytest.raises(ManifestError) as info:
        load_model(model_dir)
    message = str(info.value)
    assert message.startswith(f"{display_path(model_dir / 'manifest.toml')}: {key}: "), message
    assert fragment in message
    return message


@pytest.mark.parametrize(("file", "old", "new", "key", "fragment"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_rule_names_file_and_key(model_dir, file, old, new, key, fragment):
    edit(model_dir / file, old, new)
    expect_error(model_dir, key, fragment)


def test_the_real_model_loads_with_every_field(model_dir):
    model = load_model(model_dir)
    assert model.id == "fund.benefit_summary" and model.version == "1.2.1"
    assert (model.area, model.name, model.kind) == ("fund", "benefit_summary", "aggregate")
    assert model.datasets == {"province": ("benefit_payment",)}
    assert model.levels == ("province",)
    assert [p.name for p in model.parameters] == ["period_start", "period_end"]
    assert model.parameter("period_end").max == dt.date(2099, 12, 1)
    assert model.parameter_order == (("period_start", "period_end"),)
    assert model.output.names == (
        "region", "scheme_code", "period", "persons", "payments", "amount")
    assert [c.name for c in model.output.by_role("count")] == ["persons"]
    assert "counted twice" in model.notes
    assert "counted twice" in model.output.by_role("count")[0].description
    assert set(model.sql) == {"province", "combine"}
    assert "count(id_no) AS persons" in model.node_sql["province"]
    # amount carries dominance helpers: the node runs the file as written, while `sql`
    # returns the declared columns only, as the partials hold them.
    assert [c.name for c in model.output.columns if c.dominance] == ["amount"]
    assert [c.name for c in model.output.helpers] == ["amount__top1", "amount__top2"]
    assert model.node_sql["province"] == (model_dir / P).read_text(encoding="utf-8")
    assert model.sql["province"] != model.node_sql["province"]
    assert model.sql["province"].startswith(
        'SELECT "region", "scheme_code", "period", "persons", "payments", "amount"\nFROM (\n')
    assert model.sql["combine"] == (model_dir / "combine.sql").read_text(encoding="utf-8")
    assert model.path == model_dir and len(model.digest) == 64


def test_load_model_accepts_the_manifest_path(model_dir):
    assert load_model(model_dir / "manifest.toml").digest == load_model(model_dir).digest


def test_missing_sql_file(model_dir):
    (model_dir / "combine.sql").unlink()
    expect_error(model_dir, "sql.combine", "combine.sql: no such file")


def test_sql_file_not_utf8(model_dir):
    (model_dir / "province.sql").write_bytes("SELECT '养老' AS x".encode("gbk"))
    expect_error(model_dir, "sql.province", "not UTF-8")


def test_invalid_toml_names_the_file(model_dir):
    edit(model_dir / M, 'version = "1.2.1"', "version = ")
    with pytest.raises(ManifestError, match="manifest.toml: not valid TOML"):
        load_model(model_dir)


def test_missing_manifest_names_the_file(model_dir):
    (model_dir / M).unlink()
    with pytest.raises(ManifestError, match="manifest.toml: cannot read it"):
        load_model(model_dir)


def test_dataset_not_held_at_the_level(model_dir):
    standard = load_standard("benefit_payment")
    level = next(level for level in NODE_LEVELS if level not in standard.levels)
    edit(model_dir / M, 'province = ["benefit_payment"]', f'{level} = ["benefit_payment"]')
    edit(model_dir / M, 'province = "province.sql"', f'{level} = "province.sql"')
    expect_error(model_dir, f"datasets.{level}[1]", f"not held at {level} nodes")


def test_level_with_datasets_needs_its_sql(model_dir):
    standard = load_standard("benefit_payment")
    others = [level for level in standard.levels if level != "province"]
    if not others:
        pytest.skip("benefit_payment is held only at province nodes; no second level to add")
    edit(model_dir / M, 'province = ["benefit_payment"]',
         f'province = ["benefit_payment"]\n{others[0]} = ["benefit_payment"]')
    expect_error(model_dir, f"sql.{others[0]}", "is missing")


def test_dominance_is_optional_and_false_by_default(model_dir):
    edit(model_dir / M, "dominance = true\n", "")
    model = load_model(model_dir)
    assert not any(c.dominance for c in model.output.columns)
    assert model.output.helpers == ()
    # Without helpers, `sql` and `node_sql` are the file as written.
    assert model.sql["province"] == model.node_sql["province"] == (model_dir / P).read_text()


def test_dominance_false_is_accepted(model_dir):
    edit(model_dir / M, "dominance = true", "dominance = false")
    assert load_model(model_dir).output.helpers == ()


def test_helpers_follow_the_declared_order_of_dominance_measures(model_dir):
    edit(model_dir / M, 'role = "measure"\ndescription = "Payment rows',
         'role = "measure"\ndominance = true\ndescription = "Payment rows')
    output = load_model(model_dir).output
    assert [(c.name, c.type) for c in output.helpers] == [
        ("payments__top1", "BIGINT"), ("payments__top2", "BIGINT"),
        ("amount__top1", "DECIMAL(38,2)"), ("amount__top2", "DECIMAL(38,2)")]
    assert [c.name for c in output.node_columns] == [*output.names,
                                                    *(c.name for c in output.helpers)]


@pytest.mark.parametrize("old, new, key, fragment", [
    ('name = "enrolment_task"\ntype = "string"\ndefault = ""',
     'name = "enrolment_task"\ntype = "string"\ndefault = "x"', "parameter", 'default ""'),
    ('parameter = "enrolment_task"', 'parameter = "no_such"', "parameter",
     "must be a declared parameter"),
    ('model = "assistance.enrolled_elsewhere"\n', 'model = "assistance.enrolled_elsewhere"\n'
     'colour = "red"\n', "colour", "not a known key"),
])
def test_builds_on_rules_name_their_key(tmp_path, old, new, key, fragment):
    copy_into(tmp_path, "assistance.not_enrolled")
    folder = tmp_path / "assistance" / "not_enrolled"
    edit(folder / M, old, new)
    with pytest.raises(ManifestError) as caught:
        load_model(folder)
    assert key in str(caught.value) and fragment in str(caught.value)


def test_a_model_building_on_another_reads_its_table():
    model = load_model(Path(__file__).resolve().parents[2]
                       / "analyses/models/assistance/not_enrolled")
    assert (model.builds_on.model, model.builds_on.parameter) == (
        "assistance.enrolled_elsewhere", "enrolment_task")
    assert model.builds_on.prior({"enrolment_task": " abc "}) == "abc"
    assert model.to_dict()["builds_on"] == {"model": "assistance.enrolled_elsewhere",
                                            "parameter": "enrolment_task"}
