"""Disclosure control of `tokens` and `flags` outputs: one token format, de-duplication, padding.

Real tokens are HMAC-SHA256 values written as 64 lowercase hex characters. The engine
reads the format from the real tokens (lowercase or uppercase hex, or base64url; one
length, at least MIN_TOKEN_LENGTH) and refuses a token column that holds anything else,
so the column cannot carry an ID number or free text. The set is then padded with random
dummy tokens of the same format, to the next multiple of the policy's `token_bucket` (at
least one bucket), and sorted by token, so neither the size nor the order of the output
tells real rows from dummies. A dummy row's attributes are copied from a randomly chosen real
row (NULL when there is none), so they do not tell it apart either; sealed attributes are
sealed for dummies too (node.linkage).
"""

from __future__ import annotations

import random
import secrets

import pyarrow as pa
import pyarrow.compute as pc

from node.disclosure._errors import DisclosureError
from node.policy import DisclosurePolicy

#: The shortest token accepted: 128 bits in hex. An 18-character ID number is shorter.
MIN_TOKEN_LENGTH = 32
#: The format used when there is no real token to copy: HMAC-SHA256 in lowercase hex.
DEFAULT_FORMAT = ("hex", 64)
_ALPHABETS = {
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "base64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
}
_PATTERNS = {
    "hex": "^[0-9a-f]+$",
    "HEX": "^[0-9A-F]+$",
    "base64url": "^[A-Za-z0-9_-]+$",
}


def disclose_tokens(output, table: pa.Table, policy: DisclosurePolicy,
                    rng: random.Random | None) -> tuple[pa.Table, dict]:
    """De-duplicates (kind `tokens`) and pads a token or flag output.

    `table` has passed the engine's common checks. Returns the released table (declared
    columns only, padded) and the summary, whose `local` part must not leave the node.
    Raises DisclosureError BAD_TOKEN for a NULL token or a token column without one
    token format, and DUPLICATE_TOKEN when a `tokens` output repeats a token with
    different attributes.
    """
    rng = rng or secrets.SystemRandom()
    token = output.by_role("token")[0].name
    table = table.select(list(output.names))
    received = table.num_rows
    if table.column(token).null_count:
        raise DisclosureError("BAD_TOKEN", f"the token column {token} has empty values; "
                              "every released row needs a token")
    if output.kind == "tokens":
        table = _distinct(table, token)
    kind, length = token_format(table.column(token))
    bucket = policy.token_bucket
    padded = max(bucket, -(-table.num_rows // bucket) * bucket)
    dummies = _dummy_tokens(padded - table.num_rows, kind, length,
                            set(table.column(token).to_pylist()), rng)
    # Dummy attributes are copied from randomly chosen real rows, so that no attribute
    # (e.g. a period compared in clear) tells a dummy from a real row.
    donors = [rng.randrange(table.num_rows) for _ in dummies] if table.num_rows else []
    filler = [pa.array(dummies, type=table.schema.field(token).type) if name == token
              else table.column(name).take(pa.array(donors, pa.int64())).combine_chunks()
              if donors else pa.nulls(len(dummies), type=table.schema.field(name).type)
              for name in table.column_names]
    dummy_table = pa.Table.from_arrays(filler, schema=table.schema)
    released = pa.concat_tables([table, dummy_table]).sort_by([(token, "ascending")])
    summary = {
        "kind": output.kind,
        "settings": policy.settings(),
        "public": {"rows": padded, "bucket": bucket},
        "local": {
            "rows_received": received,
            "duplicates_removed": received - table.num_rows,
            "real_rows": table.num_rows,
            "dummy_rows": len(dummies),
            "padded_rows": padded,
        },
    }
    return released.combine_chunks(), summary


def token_format(column: pa.ChunkedArray) -> tuple[str, int]:
    """(alphabet name, length) shared by every token in `column`; DEFAULT_FORMAT if empty.

    Raises DisclosureError BAD_TOKEN if the tokens differ in length, are shorter than
    MIN_TOKEN_LENGTH, or are not all lowercase hex, uppercase hex or base64url.
    """
    if len(column) == 0:
        return DEFAULT_FORMAT
    lengths = pc.utf8_length(column)
    low, high = pc.min(lengths).as_py(), pc.max(lengths).as_py()
    if low != high or low < MIN_TOKEN_LENGTH:
        raise DisclosureError("BAD_TOKEN", "the token column must hold tokens of one length, "
                              f"at least {MIN_TOKEN_LENGTH} characters (HMAC-SHA256 in hex is 64)")
    for kind, pattern in _PATTERNS.items():
        if pc.all(pc.match_substring_regex(column, pattern)).as_py():
            return kind, low
    raise DisclosureError("BAD_TOKEN", "the token column holds values that are not hex or "
                          "base64url tokens; only tokens may be released in it")


def _distinct(table: pa.Table, token: str) -> pa.Table:
    """Drops repeated rows; a token left twice (with different attributes) is refused."""
    distinct = table.group_by(table.column_names, use_threads=False).aggregate([])
    distinct = distinct.select(table.column_names)
    if pc.count_distinct(distinct.column(token)).as_py() != distinct.num_rows:
        raise DisclosureError("DUPLICATE_TOKEN", f"a tokens output repeats a token in "
                              f"{token} with different attributes; return one row per token")
    return distinct


def _dummy_tokens(count: int, kind: str, length: int, taken: set[str],
                  rng: random.Random) -> list[str]:
    alphabet = _ALPHABETS[kind]
    bits = len(alphabet).bit_length() - 1  # 4 for hex, 6 for base64url.
    mask = (1 << bits) - 1
    made: list[str] = []
    seen = set(taken)
    while len(made) < count:
        value = rng.getrandbits(bits * length)
        if kind == "hex":
            token = format(value, f"0{length}x")
        elif kind == "HEX":
            token = format(value, f"0{length}X")
        else:
            token = "".join(alphabet[(value >> (bits * i)) & mask] for i in range(length))
        if token not in seen:
            seen.add(token)
            made.append(token)
    return made
