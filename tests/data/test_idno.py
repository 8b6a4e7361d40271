"""National ID numbers (GB 11643-1999): named vectors, and the SQL path against the Python one."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.idno import (
    BAD_STATUSES,
    STATUSES,
    check_char,
    normalise_array,
    normalise_one,
    sql_normalise_query,
    sql_unknown_area,
)
from tests.data._samples import make_id

# (name, input, normalised id or None, status). Source: the two examples printed in
# GB 11643-1999 itself (appendix), and cases derived from its rules; the derived IDs are
# built with tests.data._samples.make_id, which computes the check character on its own.
VECTORS = [
    ("GB 11643 example: Beijing, 1949-12-31, female", "11010519491231002X",
     "11010519491231002X", "valid"),
    ("GB 11643 example: Shantou, 1880-01-01, male", "440524188001010014",
     "440524188001010014", "valid"),
    ("lower-case x is upper-cased", "11010519491231002x", "11010519491231002X", "valid"),
    ("spaces, tab and ideographic space are trimmed", "\u3000 11010519491231002X\t",
     "11010519491231002X", "valid"),
    ("15-digit legacy number upgraded (19 inserted, check appended)", "110105491231002",
     "11010519491231002X", "upgraded"),
    ("15-digit legacy number, check character 0..9", "440524800101001",
     make_id("440524", "19800101", 1), "upgraded"),
    ("29 February of a leap year", make_id("110105", "20000229", 7),
     make_id("110105", "20000229", 7), "valid"),
    ("last check digit wrong", "110105194912310021", None, "bad_checksum"),
    ("two digits swapped", "11010519491231200X", None, "bad_checksum"),
    ("X where a digit is due", make_id("440524", "18800101", 1)[:17] + "X", None,
     "bad_checksum"),
    ("29 February of a non-leap year", make_id("110105", "19490229", 2), None, "bad_date"),
    ("29 February 1900 (century, not leap)", make_id("110105", "19000229", 2), None,
     "bad_date"),
    ("31 April", make_id("110105", "19790431", 2), None, "bad_date"),
    ("month 13", make_id("110105", "19791301", 2), None, "bad_date"),
    ("day 00", make_id("110105", "19790100", 2), None, "bad_date"),
    ("born in the future", make_id("110105", "20991231", 2), None, "bad_date"),
    ("born before 1800", make_id("110105", "17991231", 2), None, "bad_date"),
    ("15-digit legacy with an impossible date", "110105490230002", None, "bad_date"),
    ("17 characters", "11010519491231002", None, "bad_length"),
    ("19 characters", "11010519491231002X0", None, "bad_length"),
    ("16 characters", "1101051949123100", None, "bad_length"),
    ("a letter inside", "1101051949123100AX", None, "bad_chars"),
    ("X not at the end", "11010519491231002X"[:6] + "X" + "11010519491231002X"[7:], None,
     "bad_chars"),
    ("full-width digits", "１１０１０５１９４９１２３１００２Ｘ", None, "bad_chars"),
    ("15 characters with a letter", "11010549123100X", None, "bad_chars"),
    ("empty", "", None, "missing"),
    ("blank", "   ", None, "missing"),
    ("NULL", None, None, "missing"),
]


@pytest.mark.parametrize("name, value, expected, status", VECTORS, ids=[v[0] for v in VECTORS])
def test_python_normalise_one(name, value, expected, status):
    assert normalise_one(value) == (expected, status)


def test_vectorised_path_agrees_with_every_vector():
    ids, statuses = normalise_array(pa.array([v[1] for v in VECTORS], pa.string()))
    for (name, _value, expected, status), got_id, got_status in zip(
            VECTORS, ids.to_pylist(), statuses.to_pylist(), strict=True):
        assert got_status == status, name
        if status in ("valid", "upgraded"):
            assert got_id == expected, name


def test_bad_rows_keep_the_trimmed_input_for_local_auditors():
    ids, statuses = normalise_array(pa.array([" 110105194912310021 ", None, "  "]))
    assert ids.to_pylist() == ["110105194912310021", None, None]
    assert statuses.to_pylist() == ["bad_checksum", "missing", "missing"]


def test_check_char_and_statuses():
    assert check_char("11010519491231002") == "X"
    assert check_char("44052418800101001") == "4"
    with pytest.raises(ValueError):
        check_char("1101051949123100X")
    assert set(STATUSES) - BAD_STATUSES == {"valid", "upgraded"}


def test_query_keeps_other_columns_and_reports_unknown_areas():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INTEGER, id_no VARCHAR)")
    unknown_area = make_id("990105", "19491231", 2)
    con.execute("INSERT INTO t VALUES (1, ?), (2, ?), (3, NULL)",
                ["11010519491231002x", unknown_area])
    rows = con.execute(
        f"SELECT k, id_no, id_status, {sql_unknown_area('id_no')} AS unknown "
        f"FROM ({sql_normalise_query('t', 'id_no')}) ORDER BY k").fetchall()
    assert rows == [(1, "11010519491231002X", "valid", False),
                    (2, unknown_area, "valid", True),
                    (3, None, "missing", None)]


# Property: the SQL path and the pure-Python path agree on any input at all.
_CHARS = st.sampled_from(list("0123456789xX \t") + ["\u3000", "ß", "Ｘ", "a"])
_NOISE = st.lists(_CHARS, min_size=0, max_size=20).map("".join)


@st.composite
def _near_valid(draw) -> str:
    """IDs built from real parts that are right or wrong in one place or another."""
    area = draw(st.sampled_from(["110105", "440524", "990101", "650102"]))
    year = draw(st.integers(1790, 2110))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    seq = draw(st.integers(0, 999))
    if draw(st.booleans()):
        return f"{area}{year % 100:02d}{month:02d}{day:02d}{seq:03d}"
    first17 = f"{area}{year:04d}{month:02d}{day:02d}{seq:03d}"
    last = draw(st.sampled_from([check_char(first17), *"0123456789Xx"]))
    return first17 + last


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_NOISE, _near_valid(), st.none()), min_size=1, max_size=40))
def test_sql_and_python_agree(values):
    today = dt.date.today()
    ids, statuses = normalise_array(pa.array(values, pa.string()))
    for value, got_id, got_status in zip(values, ids.to_pylist(), statuses.to_pylist(),
                                         strict=True):
        expected_id, expected_status = normalise_one(value, today)
        assert got_status == expected_status, repr(value)
        if expected_id is not None:
            assert got_id == expected_id, repr(value)
