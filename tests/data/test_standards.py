"""The dataset standards: all twelve load, follow the naming rules, and bad files are refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyses.datasets import (
    LINEAGE_COLUMNS,
    DatasetStandardError,
    UnknownDataset,
    load_all,
    load_standard,
    standard_names,
)
from analyses.datasets._standard import parse_standard

EXPECTED = {
    "insured_person", "contribution", "benefit_payment", "med_settlement", "assistance_member",
    "assistance_payment", "death_record", "vehicle_registration", "real_estate_right",
    "business_entity", "business_person", "public_payroll",
    "dataset_quality",  # derived by the node from its catalog, never ingested
}
#: Columns that identify a person directly; they must be local-only wherever they appear.
DIRECT_IDENTIFIERS = {"id_no", "owner_id_no", "name"}


def test_the_standards_are_shipped_and_load():
    assert standard_names() == EXPECTED
    standards = load_all()
    assert set(standards) == EXPECTED
    for name, std in standards.items():
        assert std.name == name and std.version >= 1 and std.title_zh and std.title_en


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_naming_conventions(name):
    std = load_standard(name)
    names = set(std.column_names)
    # No standing link key: the reference's person_key/owner_key become local-only IDs.
    assert not names & {"person_key", "owner_key"}
    for column in std.columns:
        if column.name in DIRECT_IDENTIFIERS:
            assert column.local_only, f"{name}.{column.name} must be local-only"
    for lineage in LINEAGE_COLUMNS:
        assert lineage in names and not std.column(lineage).required
    assert std.column("data_as_of").type == "DATE"
    if std.period_column:
        assert std.column(std.period_column).type == "DATE"
    for column in std.columns:
        if "amt" in column.name or column.name in ("amount", "gross_pay", "hifp_pay"):
            assert column.type == "DECIMAL(14,2)", f"{name}.{column.name} is money"
        if column.name.endswith("admdvs"):
            assert column.pattern in ("[0-9]{6}", "[0-9]{12}")


def test_who_holds_what_and_which_column_is_the_id():
    assert load_standard("vehicle_registration").id_column == "owner_id_no"
    assert load_standard("real_estate_right").id_column == "owner_id_no"
    assert load_standard("business_entity").id_column is None
    assert load_standard("death_record").levels == ("registry",)
    assert "province" in load_standard("benefit_payment").levels
    assert load_standard("assistance_member").column("admdvs").pattern == "[0-9]{12}"
    assert load_standard("insured_person").column("name").local_only
    assert load_standard("med_settlement").date_order == (("begin_date", "end_date"),)


def test_code_lists_come_from_the_reference():
    bp = load_standard("benefit_payment")
    assert bp.column("scheme_code").codes == ("110", "120", "170", "210", "410")
    assert bp.column("pay_status").code_labels["5"] == "追回"
    assert "0105" in bp.column("benefit_item").codes  # 抚恤金: legitimately after death.
    assert load_standard("public_payroll").column("staffing_type").codes[-1] == "50"


def test_unknown_dataset_is_a_key_error_naming_the_known_ones():
    with pytest.raises(KeyError) as caught:
        load_standard("pensions")
    assert isinstance(caught.value, UnknownDataset)
    assert "unknown dataset 'pensions'" in str(caught.value)
    assert "benefit_payment" in str(caught.value)


GOOD = """\
name = "{name}"
title_zh = "测试"
title_en = "Test"
version = 1
levels = ["province"]
key = ["a"]
{extra_top}
[[column]]
name = "a"
type = "VARCHAR"
required = true
{extra_col}
[[column]]
name = "data_as_of"
type = "DATE"
required = false
[[column]]
name = "src_system"
type = "VARCHAR"
required = false
[[column]]
name = "load_batch_id"
type = "VARCHAR"
required = false
"""

# Each case: the TOML additions, and what the error must name.
BAD_CASES = {
    "unknown top key": ("colour = 'red'", "", "'colour'"),
    "version not an int": ("", "", None),
    "bad column type": ("", "", None),
    "unknown column key": ("", "nullable = true", "'nullable'"),
    "codes on a date": ("", "", None),
    "period not a column": ("period_column = 'month'", "", "'period_column'"),
    "id column not local": ("id_column = 'a'", "", "'id_column'"),
    "bad regex": ("", "pattern = '[0-9'", "'pattern'"),
    "required not a bool": ("", "", None),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_invalid_standard_files_are_refused_naming_file_and_key(tmp_path: Path, case: str):
    extra_top, extra_col, must_name = BAD_CASES[case]
    text = GOOD.format(name="broken", extra_top=extra_top, extra_col=extra_col)
    if case == "version not an int":
        text, must_name = text.replace("version = 1", "version = true"), "'version'"
    elif case == "bad column type":
        text, must_name = text.replace('type = "VARCHAR"', 'type = "TEXT"', 1), "'type'"
    elif case == "codes on a date":
        text, must_name = text.replace('type = "DATE"\nrequired = false',
                                       'type = "DATE"\nrequired = false\ncodes = ["1"]'), \
            "'codes'"
    elif case == "required not a bool":
        text, must_name = text.replace("required = true", 'required = "yes"', 1), "'required'"
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DatasetStandardError) as caught:
        parse_standard(path)
    assert "broken.toml" in str(caught.value)
    assert must_name in str(caught.value)


def test_a_minimal_valid_file_parses_and_missing_lineage_is_refused(tmp_path: Path):
    path = tmp_path / "minimal.toml"
    path.write_text(GOOD.format(name="minimal", extra_top="", extra_col=""), encoding="utf-8")
    assert parse_standard(path).column_names == ("a", *LINEAGE_COLUMNS)
    lacking = GOOD.format(name="minimal", extra_top="", extra_col="")
    lacking = re.sub(r'\[\[column\]\]\nname = "load_batch_id".*', "", lacking, flags=re.S)
    path.write_text(lacking, encoding="utf-8")
    with pytest.raises(DatasetStandardError, match="load_batch_id"):
        parse_standard(path)
