"""The content digest: every byte of the manifest and its SQL counts, fixtures do not."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyses import compute_digest, load_library, load_model
from tests.model_support import edit

#: (file, old, new): one small change per file that keeps the model valid.
CHANGES = [
    ("manifest.toml", "# fund.benefit_summary:", "# fund.benefit_summary :"),
    ("manifest.toml", 'title_en = "Benefit payments', 'title_en = "Benefit Payments'),
    ("province.sql", "ORDER BY region, scheme_code, period",
     "ORDER BY region, period, scheme_code"),
    ("province.sql", "-- fund.benefit_summary", "--  fund.benefit_summary"),
    ("combine.sql", "-- fund.benefit_summary", "--  fund.benefit_summary"),
]


@pytest.mark.parametrize(("file", "old", "new"), CHANGES)
def test_digest_changes_with_manifest_or_sql(model_dir, file, old, new):
    before = load_model(model_dir).digest
    edit(model_dir / file, old, new)
    assert load_model(model_dir).digest != before


def test_digest_changes_when_bytes_move_between_files(model_dir):
    """Moving a comment from the end of one SQL file to the start of the next one."""
    before = load_model(model_dir).digest
    province = (model_dir / "province.sql").read_bytes()
    combine = (model_dir / "combine.sql").read_bytes()
    moved = b"-- moved\n"
    (model_dir / "province.sql").write_bytes(province + moved)
    middle = load_model(model_dir).digest
    (model_dir / "province.sql").write_bytes(province)
    (model_dir / "combine.sql").write_bytes(moved + combine)
    after = load_model(model_dir).digest
    assert len({before, middle, after}) == 3


@pytest.mark.parametrize("fixture", ["expected_province.csv", "partials.csv", "params.toml",
                                     "province/benefit_payment.csv"])
def test_digest_ignores_fixtures(model_dir, fixture):
    before = load_model(model_dir).digest
    path = model_dir / "fixtures" / fixture
    path.write_bytes(path.read_bytes() + b"\n# changed\n")
    assert load_model(model_dir).digest == before


def test_digest_does_not_depend_on_where_the_model_lives(model_dir, tmp_path):
    elsewhere = tmp_path / "other" / "fund" / "benefit_summary"
    shutil.copytree(model_dir, elsewhere)
    assert load_model(elsewhere).digest == load_model(model_dir).digest


def test_library_digest_follows_model_digests(library_copy, model_dir):
    before = load_library(library_copy).digest
    assert before == load_library(library_copy).digest
    edit(model_dir / "province.sql", "-- fund.benefit_summary", "--  fund.benefit_summary")
    assert load_library(library_copy).digest != before


parts = st.lists(st.tuples(st.text(max_size=8), st.binary(max_size=16)), min_size=1,
                 max_size=4)


@given(parts, st.data())
def test_any_changed_byte_changes_the_digest(items, data):
    index = data.draw(st.integers(0, len(items) - 1))
    label, body = items[index]
    if body:
        at = data.draw(st.integers(0, len(body) - 1))
        changed = body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1:]
    else:
        changed = b"\x00"
    altered = [*items[:index], (label, changed), *items[index + 1:]]
    assert compute_digest(altered) != compute_digest(items)


@given(st.binary(min_size=1, max_size=32), st.binary(max_size=32), st.data())
def test_framing_separates_parts(first, second, data):
    """Shifting bytes across the boundary of two parts gives another digest."""
    cut = data.draw(st.integers(0, len(first) - 1))
    joined = [("a", first), ("b", second)]
    shifted = [("a", first[:cut]), ("b", first[cut:] + second)]
    assert compute_digest(joined) != compute_digest(shifted)
