"""Tokens and flags: one token format, de-duplication, padding to the bucket, public vs local."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import random
import re
from decimal import Decimal

import pyarrow as pa
import pytest

from node.disclosure import DisclosureError, apply_disclosure, token_format
from node.policy import DisclosurePolicy

DEFAULT = DisclosurePolicy()
KEY = bytes(range(32))


def token(i: int) -> str:
    """A real-looking token: HMAC-SHA256 over a made-up ID, as DESIGN §5 defines it."""
    return hmac.new(KEY, f"cnid/v1|44010319500312{i:04d}".encode(), hashlib.sha256).hexdigest()


def deaths(tokens: list[str], dates: list | None = None) -> pa.Table:
    dates = dates or [dt.date(2024, 1, 1 + i % 28) for i in range(len(tokens))]
    return pa.table({"token": pa.array(tokens, pa.string()),
                     "death_date": pa.array(dates, pa.date32())})


def test_tokens_are_deduplicated_and_padded_to_the_bucket(models):
    real = [token(i) for i in range(1500)]
    table = deaths(real + real[:10], dates=[dt.date(2024, 1, 1)] * 1510)
    disclosed = apply_disclosure(models["deaths"], table, DEFAULT, rng=random.Random(7))
    out = disclosed.table
    assert out.column_names == ["token", "death_date"]
    assert out.num_rows == 2000
    tokens = out.column("token").to_pylist()
    assert len(set(tokens)) == 2000 and set(real) <= set(tokens)
    assert all(re.fullmatch("[0-9a-f]{64}", t) for t in tokens)
    assert tokens == sorted(tokens)  # the order tells real from dummy rows nothing
    # Dummies carry attributes copied from real rows: no NULL tells them apart.
    assert out.column("death_date").null_count == 0
    assert set(out.column("death_date").to_pylist()) == {dt.date(2024, 1, 1)}
    assert disclosed.summary["local"] == {
        "rows_received": 1510, "duplicates_removed": 10, "real_rows": 1500,
        "dummy_rows": 500, "padded_rows": 2000,
    }
    assert disclosed.summary["public"] == {"rows": 2000, "bucket": 1000}
    public = disclosed.public_summary
    assert "local" not in public and "1500" not in str(public) and "1510" not in str(public)


@pytest.mark.parametrize(("real", "bucket", "padded"),
                         [(0, 1000, 1000), (1, 1000, 1000), (1000, 1000, 1000),
                          (1001, 1000, 2000), (7, 5, 10), (10, 5, 10)])
def test_padding_reaches_the_next_multiple_and_at_least_one_bucket(models, real, bucket,
                                                                    padded):
    policy = dataclasses.replace(DEFAULT, token_bucket=bucket)
    out = apply_disclosure(models["deaths"], deaths([token(i) for i in range(real)]), policy)
    assert out.table.num_rows == padded
    assert out.summary["local"]["dummy_rows"] == padded - real


def test_flags_keep_repeated_tokens_and_are_padded(models):
    rows = [token(1), token(1), token(2)]
    table = pa.table({"token": rows,
                      "amount": pa.array([Decimal(10), Decimal(20), Decimal(5)],
                                         pa.decimal128(38, 2))})
    out = apply_disclosure(models["flags"], table, dataclasses.replace(DEFAULT, token_bucket=10))
    assert out.table.num_rows == 10
    assert out.table.column("token").to_pylist().count(token(1)) == 2
    assert out.summary["local"]["duplicates_removed"] == 0
    amounts = out.table.column("amount").to_pylist()
    assert out.table.column("amount").null_count == 0  # dummies copy real rows' values
    assert set(amounts) <= {Decimal(10), Decimal(20), Decimal(5)}


def test_the_dummy_format_follows_the_real_tokens(models):
    upper = [token(i).upper() for i in range(3)]
    out = apply_disclosure(models["deaths"], deaths(upper), DEFAULT).table
    assert all(re.fullmatch("[0-9A-F]{64}", t) for t in out.column("token").to_pylist())
    b64 = ["A" * 42 + "-", "b" * 42 + "_"]
    out = apply_disclosure(models["deaths"], deaths(b64), DEFAULT).table
    assert all(re.fullmatch("[A-Za-z0-9_-]{43}", t) for t in out.column("token").to_pylist())
    assert token_format(pa.chunked_array([], pa.string())) == ("hex", 64)


def test_the_same_rng_gives_the_same_dummies(models):
    table = deaths([token(i) for i in range(3)])
    first = apply_disclosure(models["deaths"], table, DEFAULT, rng=random.Random(1)).table
    again = apply_disclosure(models["deaths"], table, DEFAULT, rng=random.Random(1)).table
    other = apply_disclosure(models["deaths"], table, DEFAULT, rng=random.Random(2)).table
    assert first.equals(again) and not first.equals(other)


@pytest.mark.parametrize(
    ("tokens", "code"),
    [
        (["440103195003120016"], "BAD_TOKEN"),  # an ID number is no token
        ([token(1), token(2)[:40]], "BAD_TOKEN"),  # two lengths
        (["甲" * 64], "BAD_TOKEN"),  # the right length, but text
        (["Zhang San lives at 1 Main Street, Guangzhou, Guangdong 510000"], "BAD_TOKEN"),
        ([token(1), None], "BAD_TOKEN"),
    ],
)
def test_anything_but_tokens_in_the_token_column_is_refused(models, tokens, code):
    with pytest.raises(DisclosureError) as caught:
        apply_disclosure(models["deaths"], deaths(tokens), DEFAULT)
    assert caught.value.code == code
    assert "440103" not in caught.value.public and "Zhang" not in caught.value.public


def test_a_token_with_two_different_attributes_is_refused(models):
    table = deaths([token(1), token(1)], dates=[dt.date(2024, 1, 1), dt.date(2024, 2, 1)])
    with pytest.raises(DisclosureError, match="DUPLICATE_TOKEN"):
        apply_disclosure(models["deaths"], table, DEFAULT)


def test_more_real_tokens_than_max_rows_are_refused(models):
    policy = dataclasses.replace(DEFAULT, max_rows=5)
    with pytest.raises(DisclosureError, match="TOO_MANY_ROWS") as caught:
        apply_disclosure(models["deaths"], deaths([token(i) for i in range(6)]), policy)
    assert "6" not in caught.value.public
