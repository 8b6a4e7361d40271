"""Tests for node.tokens: HMAC tokens computed in DuckDB, and sealed attributes."""

from __future__ import annotations

import base64
import random

import duckdb
import pytest

from node.executor import open_sandbox
from node.idno import check_char, normalise_one, sql_normalise_query
from node.policy import Policy
from node.tokens import (
    IPAD_PARAM,
    OPAD_PARAM,
    TokenError,
    attribute_key,
    open_attribute,
    seal_attribute,
    token_expression,
    token_of,
    token_params,
    tokenise,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))

#: Named token vectors. Origin: `printf 'cnid/v1|<id18>' | openssl dgst -sha256 -mac HMAC
#: -macopt hexkey:<key>` with OpenSSL 3.0.19, an implementation independent of ours.
VECTORS = [
    ("check digit X", bytes(range(32)), "11010519491231002X",
     "20c258a8226954b610029949ae49b153a369b7bc908bb4573a69d53b8474c849"),
    ("check digit 4, born 1880", bytes(range(32)), "440524188001010014",
     "a8553652df70f624d703ca6c7c592b1a1d5850c1a81c3011a7df6a826027df86"),
    ("all-ones key", b"\xff" * 32, "11010519491231002X",
     "96632c63748999667ea9d7c06cf8474d646c17fa7e6fba84d5556a6010322c83"),
]


def random_ids(count: int, seed: int) -> list[str]:
    """Valid 18-character IDs with random areas, birth dates and sequence numbers."""
    rng = random.Random(seed)
    ids = []
    while len(ids) < count:
        first17 = (f"{rng.choice(['11', '44', '45', '65'])}{rng.randrange(10000):04d}"
                   f"{rng.randrange(1930, 2020)}{rng.randrange(1, 13):02d}"
                   f"{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}")
        ids.append(first17 + check_char(first17))
    return ids


def tokens_in_duckdb(key: bytes, ids: list[str]) -> list[str]:
    con = duckdb.connect()
    con.execute("CREATE TABLE ids AS SELECT unnest($ids) AS id_no", {"ids": ids})
    sql = f"SELECT {token_expression('id_no')} FROM ids ORDER BY rowid"
    return [row[0] for row in con.execute(sql, token_params(key)).fetchall()]


@pytest.mark.parametrize(("name", "key", "id18", "expected"), VECTORS,
                         ids=[v[0] for v in VECTORS])
def test_token_vectors(name, key, id18, expected):
    assert token_of(key, id18) == expected
    assert tokens_in_duckdb(key, [id18]) == [expected]


def test_duckdb_tokens_equal_python_hmac_on_many_ids():
    ids = random_ids(3000, seed=6)
    assert sum(i.endswith("X") for i in ids) > 100  # the X check character is well covered
    assert tokens_in_duckdb(KEY, ids) == [token_of(KEY, i) for i in ids]


def test_tokens_are_lower_case_hex_of_32_bytes():
    (token,) = tokens_in_duckdb(KEY, ["11010519491231002X"])
    assert len(token) == 64 and token == token.lower() and bytes.fromhex(token)


def test_the_pad_blocks_are_the_rfc_2104_pads_and_the_key_is_not_in_the_sql():
    params = token_params(KEY)
    assert set(params) == {IPAD_PARAM, OPAD_PARAM}
    assert params[IPAD_PARAM] == bytes(b ^ 0x36 for b in KEY) + b"\x36" * 32
    assert params[OPAD_PARAM] == bytes(b ^ 0x5C for b in KEY) + b"\x5c" * 32
    sql = token_expression('"id_no"')
    assert KEY.hex() not in sql and params[IPAD_PARAM].hex() not in sql
    assert f"${IPAD_PARAM}" in sql and f"${OPAD_PARAM}" in sql


@pytest.mark.parametrize("bad", [b"", b"k" * 31, b"k" * 33, "k" * 32])
def test_keys_of_the_wrong_shape_are_refused(bad):
    with pytest.raises(TokenError, match="32 bytes"):
        token_params(bad)
    with pytest.raises(TokenError, match="32 bytes"):
        token_of(bad, "11010519491231002X")


def test_different_keys_give_unrelated_tokens():
    ids = random_ids(500, seed=7)
    ours, theirs = tokens_in_duckdb(KEY, ids), tokens_in_duckdb(OTHER_KEY, ids)
    assert not set(ours) & set(theirs)


def test_a_token_from_another_task_does_not_match():
    ids = random_ids(200, seed=8)
    con = duckdb.connect()
    con.execute("CREATE TABLE a AS SELECT unnest($ids) AS id_no, 'valid' AS id_status",
                {"ids": ids})
    con.execute("CREATE TABLE b AS SELECT * FROM a")
    mine = tokenise(con, "a", "id_no", KEY).relation.to_arrow_table()
    same = tokenise(con, "b", "id_no", KEY).relation.to_arrow_table()
    other = tokenise(con, "b", "id_no", OTHER_KEY).relation.to_arrow_table()
    con.register("mine", mine)
    con.register("same", same)
    con.register("other", other)
    assert con.execute("SELECT count(*) FROM mine JOIN same USING (token)").fetchone()[0] == 200
    assert con.execute("SELECT count(*) FROM mine JOIN other USING (token)").fetchone()[0] == 0


def test_tokenise_hashes_only_valid_and_upgraded_ids_and_counts_the_rest():
    raw = ["11010519491231002X", "110105491231002", "11010519491231002x ",
           "110105194912310021", "1101051949123100", "11010519491331002X", None, "   ",
           "A1010519491231002X"]
    con = duckdb.connect()
    con.execute("CREATE TABLE raw AS SELECT unnest($v) AS id_no", {"v": raw})
    con.execute("CREATE TABLE snap AS " + sql_normalise_query("raw", "id_no"))
    result = tokenise(con, "snap", "id_no", KEY)
    rows = result.relation.fetchall()
    expected = {token_of(KEY, normalise_one(v)[0]) for v in raw if normalise_one(v)[0]}
    assert {row[0] for row in rows} == expected
    assert result.relation.columns[0] == "token" and "id_no" not in result.relation.columns
    assert "id_status" not in result.relation.columns
    assert result.tokenised == 3 and result.excluded == 6
    assert result.counts == {"valid": 2, "upgraded": 1, "bad_checksum": 1, "bad_length": 1,
                             "bad_date": 1, "missing": 2, "bad_chars": 1}
    # No invalid value was hashed as it came, nor as its trimmed upper-case form.
    for value in raw:
        if value is not None and normalise_one(value)[0] is None:
            for form in (value, value.strip().upper()):
                assert token_of(KEY, form.ljust(18)[:18]) not in {row[0] for row in rows}


def test_tokenise_keeps_the_other_columns_and_binds_the_key():
    con = duckdb.connect()
    con.execute("CREATE TABLE snap AS SELECT '11010519491231002X' AS id_no, 'valid' AS id_status,"
                " 12.5::DECIMAL(10, 2) AS amount")
    result = tokenise(con, "snap", "id_no", KEY)
    assert result.relation.fetchall() == [(token_of(KEY, "11010519491231002X"),
                                           pytest.approx(12.5))]
    assert KEY.hex() not in result.sql
    assert con.execute(result.sql, result.params).fetchall() == result.relation.fetchall()


def test_tokenise_refuses_ids_marked_valid_that_are_not_normalised():
    con = duckdb.connect()
    con.execute("CREATE TABLE snap AS SELECT * FROM (VALUES ('11010519491231002x', 'valid')) "
                "v(id_no, id_status)")
    with pytest.raises(TokenError, match="normalise"):
        tokenise(con, "snap", "id_no", KEY)


def test_tokens_compute_inside_the_locked_down_sandbox(tmp_path):
    snapshot = tmp_path / "people.duckdb"
    ids = random_ids(50, seed=9)
    with duckdb.connect(str(snapshot)) as con:
        con.execute("CREATE TABLE people AS SELECT unnest($ids) AS id_no", {"ids": ids})
    with open_sandbox({"people": snapshot}, Policy(memory_limit="256MB", threads=1)) as con:
        sql = f"SELECT id_no, {token_expression('id_no')} AS token FROM people"
        tokens = dict(con.execute(sql, token_params(KEY)).fetchall())
    assert tokens == {i: token_of(KEY, i) for i in ids}


# Sealed attributes.

def test_attribute_key_is_bound_to_the_task_and_the_task_key():
    assert attribute_key(KEY, "t-1") == attribute_key(KEY, "t-1")
    assert attribute_key(KEY, "t-1") != attribute_key(KEY, "t-2")
    assert attribute_key(KEY, "t-1") != attribute_key(OTHER_KEY, "t-1")
    assert len(attribute_key(KEY, "t-1")) == 32
    with pytest.raises(TokenError):
        attribute_key(KEY, "")


def test_seal_and_open_round_trip_with_fresh_nonces():
    key = attribute_key(KEY, "t-1")
    one, two = seal_attribute(key, "death_date", "2023-04-30"), seal_attribute(
        key, "death_date", "2023-04-30")
    assert one != two  # a random nonce each time
    assert "2023" not in one
    assert open_attribute(key, "death_date", one) == "2023-04-30"
    assert open_attribute(key, "death_date", two) == "2023-04-30"
    sealed = seal_attribute(key, "note", "死亡登记")
    assert open_attribute(key, "note", sealed) == "死亡登记"


def test_a_sealed_attribute_with_any_byte_changed_is_refused():
    key = attribute_key(KEY, "t-1")
    raw = base64.b64decode(seal_attribute(key, "death_date", "2023-04-30"))
    for index in range(len(raw)):
        changed = bytearray(raw)
        changed[index] ^= 0x01
        with pytest.raises(TokenError, match="does not open"):
            open_attribute(key, "death_date", base64.b64encode(bytes(changed)).decode())


@pytest.mark.parametrize("mangle", ["not base64!", "", base64.b64encode(b"short").decode()])
def test_malformed_sealed_values_are_refused(mangle):
    with pytest.raises(TokenError):
        open_attribute(attribute_key(KEY, "t-1"), "death_date", mangle)


def test_a_sealed_attribute_opens_only_for_its_column_task_and_token():
    key = attribute_key(KEY, "t-1")
    sealed = seal_attribute(key, "death_date", "2023-04-30", token="ab" * 32)
    assert open_attribute(key, "death_date", sealed, token="ab" * 32) == "2023-04-30"
    with pytest.raises(TokenError):
        open_attribute(key, "birth_date", sealed, token="ab" * 32)
    with pytest.raises(TokenError):
        open_attribute(key, "death_date", sealed, token="cd" * 32)
    with pytest.raises(TokenError):
        open_attribute(key, "death_date", sealed)
    with pytest.raises(TokenError):
        open_attribute(attribute_key(KEY, "t-2"), "death_date", sealed, token="ab" * 32)


def test_sealing_refuses_non_text_and_bad_keys():
    with pytest.raises(TokenError, match="text"):
        seal_attribute(attribute_key(KEY, "t"), "amount", 12)  # type: ignore[arg-type]
    with pytest.raises(TokenError, match="32 bytes"):
        seal_attribute(b"short", "amount", "12")
