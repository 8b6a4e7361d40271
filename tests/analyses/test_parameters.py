"""Parameter binding and parsing: typed values, defaults, and each rule named when broken."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyses import Parameter, ParameterError, load_library, load_model
from tests.analyses.conftest import MODEL_ID
from tests.model_support import edit

D = dt.date

#: (case, values given, fragment of the ParameterError message)
BAD_BINDINGS = [
    ("unknown-name", {"period_begin": D(2024, 1, 1)}, "period_begin is not a parameter"),
    ("string-for-month", {"period_start": "2024-01-01"}, "expects a month"),
    ("datetime-for-month", {"period_start": dt.datetime(2024, 1, 1)}, "expects a month"),
    ("below-min", {"period_start": D(1989, 12, 1)}, "1989-12-01 is below min 1990-01-01"),
    ("above-max", {"period_end": D(2100, 1, 1)}, "2100-01-01 is above max 2099-12-01"),
    ("month-not-first", {"period_start": D(2024, 1, 15)}, "not on the 1st of a month"),
    ("start-after-end", {"period_start": D(2024, 3, 1), "period_end": D(2024, 1, 1)},
     "period_start (2024-03-01) must not be after period_end (2024-01-01)"),
]


@pytest.fixture(scope="module")
def model():
    return load_library().get(MODEL_ID)


def test_defaults_fill_missing_values(model):
    assert model.bind_parameters({}) == {"period_start": D(1990, 1, 1),
                                         "period_end": D(2099, 12, 1)}


def test_given_values_are_kept_typed(model):
    bound = model.bind_parameters({"period_end": D(2024, 2, 1)})
    assert bound == {"period_start": D(1990, 1, 1), "period_end": D(2024, 2, 1)}
    assert list(bound) == ["period_start", "period_end"]


@pytest.mark.parametrize(("values", "fragment"), [c[1:] for c in BAD_BINDINGS],
                         ids=[c[0] for c in BAD_BINDINGS])
def test_bad_values_name_the_parameter_and_rule(model, values, fragment):
    with pytest.raises(ParameterError) as info:
        model.bind_parameters(values)
    assert fragment in str(info.value)
    assert str(info.value).startswith("parameter ")


def test_missing_required_value(model_dir):
    edit(model_dir / "manifest.toml", 'type = "month"\ndefault = 2099-12-01\n', 'type = "month"\n')
    model = load_model(model_dir)
    assert model.parameter("period_end").required
    with pytest.raises(ParameterError, match="parameter period_end is required"):
        model.bind_parameters({})
    assert model.bind_parameters({"period_end": D(2024, 1, 1)})["period_end"] == D(2024, 1, 1)


def test_an_unknown_parameter_name_is_a_user_error(model):
    with pytest.raises(ParameterError, match="its parameters are: period_start, period_end"):
        model.parameter("period_begin")


def test_parse_command_line_assignments(model):
    values = model.parse_parameters(["period_start=2024-01", "period_end=2024-02-01"])
    assert values == {"period_start": D(2024, 1, 1), "period_end": D(2024, 2, 1)}
    assert model.bind_parameters(values) == values


@pytest.mark.parametrize(("items", "fragment"), [
    (["period_start"], "is not NAME=VALUE"),
    (["period_start=2024-01", "period_start=2024-02"], "given twice"),
    (["period_begin=2024-01"], "period_begin is not a parameter"),
    (["period_start=2024-13"], "'2024-13' is not a month"),
    (["period_start=2024-1"], "'2024-1' is not a month"),
    (["period_start=2024-01-15"], "'2024-01-15' is not a month"),
    (["period_start=1900-01"], "below min"),
])
def test_parse_rejects_bad_assignments(model, items, fragment):
    with pytest.raises(ParameterError) as info:
        model.parse_parameters(items)
    assert fragment in str(info.value)


AMOUNT = Parameter("amount", "decimal", "x", decimal.Decimal("0"), decimal.Decimal("0"),
                   decimal.Decimal("1000"))
RATIO = Parameter("ratio", "float", "x", 0.5, 0.0, 1.0)
LAG = Parameter("lag", "int", "x", 3, 0, 24)
FLAG = Parameter("strict", "bool", "x", False)
SCHEME = Parameter("scheme", "code", "x", "110", choices=("110", "120", "170"))
LABEL = Parameter("label", "string", "x", "")
DAY = Parameter("day", "date", "x", D(2024, 1, 31))

#: (parameter, text, typed value)
PARSED = [
    (AMOUNT, "12.50", decimal.Decimal("12.50")),
    (RATIO, "0.25", 0.25),
    (LAG, "+7", 7),
    (FLAG, "Yes", True),
    (FLAG, "0", False),
    (SCHEME, "170", "170"),
    (LABEL, "  spaced  ", "  spaced  "),
    (DAY, "2024-02-29", D(2024, 2, 29)),
]


@pytest.mark.parametrize(("param", "text", "value"), PARSED,
                         ids=[f"{p.name}={t}" for p, t, _ in PARSED])
def test_parse_each_type(param, text, value):
    parsed = param.parse(text)
    assert parsed == value and type(parsed) is type(value)


#: (parameter, text, fragment)
UNPARSABLE = [
    (AMOUNT, "12,50", "is not a decimal"),
    (AMOUNT, "1000.01", "above max 1000"),
    (RATIO, "nan", "finite"),
    (LAG, "3.0", "is not an int"),
    (LAG, "-1", "below min 0"),
    (FLAG, "maybe", "is not a bool"),
    (SCHEME, "999", "not one of 110, 120, 170"),
    (DAY, "2023-02-29", "is not a date"),
]


@pytest.mark.parametrize(("param", "text", "fragment"), UNPARSABLE,
                         ids=[f"{p.name}={t}" for p, t, _ in UNPARSABLE])
def test_parse_rejects_bad_text(param, text, fragment):
    with pytest.raises(ParameterError) as info:
        param.parse(text)
    assert fragment in str(info.value) and param.name in str(info.value)


@pytest.mark.parametrize(("param", "value"), [
    (LAG, True), (LAG, 2.0), (AMOUNT, 0.5), (RATIO, "0.5"), (FLAG, 1), (SCHEME, 110),
])
def test_check_rejects_wrong_python_types(param, value):
    with pytest.raises(ParameterError, match="expects"):
        param.check(value)


def test_check_widens_exact_numbers():
    assert AMOUNT.check(7) == decimal.Decimal(7) and isinstance(AMOUNT.check(7), decimal.Decimal)
    assert RATIO.check(1) == 1.0 and isinstance(RATIO.check(1), float)


@given(st.integers(-100, 100))
def test_int_range_and_round_trip(value):
    if 0 <= value <= 24:
        assert LAG.parse(str(value)) == value
    else:
        with pytest.raises(ParameterError):
            LAG.check(value)


@given(st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False))
def test_decimal_round_trip(value):
    assert AMOUNT.parse(str(value)) == value


@given(st.dates(D(1990, 1, 1), D(2099, 12, 31)))
def test_month_round_trip(day):
    param = load_library().get(MODEL_ID).parameter("period_start")
    month = day.replace(day=1)
    assert param.parse(month.strftime("%Y-%m")) == month
    assert param.parse(month.isoformat()) == month
    if day.day != 1:
        with pytest.raises(ParameterError, match="not on the 1st"):
            param.check(day)
