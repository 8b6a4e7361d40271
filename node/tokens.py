"""Link tokens (HMAC-SHA256 of normalised IDs, computed inside DuckDB) and sealed attributes.

A token is ``HMAC-SHA256(K_task, "cnid/v1|" + id18)`` in lower-case hex (DESIGN §5). DuckDB
has no HMAC, so the token is composed from its ``sha256`` over BLOBs, as RFC 2104 defines
HMAC: ``sha256(opad || unhex(sha256(ipad || message)))``, where ``ipad`` and ``opad`` are
the key XOR 0x36 and 0x5c, padded to SHA-256's 64-byte block. The two pad blocks are bound
as BLOB parameters (``$fa_ipad``, ``$fa_opad``), so the key never appears in SQL text, in
a query log or in a plan; the expression runs vectorised and in parallel like any other.
`token_of` is the reference implementation with Python's `hmac`, for tests and tools.

Attributes the coordinator need not read (a death date, an amount) travel sealed with
AES-256-GCM under `attribute_key`, a key derived from ``K_task`` and bound to the task.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

import duckdb
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from analyses._linkage import TOKEN_PREFIX, TOKENISABLE_STATUSES, hmac_pads
from node.errors import NodeError

__all__ = [
    "IPAD_PARAM",
    "KEY_LENGTH",
    "OPAD_PARAM",
    "TOKEN_PREFIX",
    "TOKENISABLE_STATUSES",
    "TokenError",
    "Tokenised",
    "attribute_key",
    "open_attribute",
    "seal_attribute",
    "token_expression",
    "token_of",
    "token_params",
    "tokenise",
]

#: A task key is 32 random bytes.
KEY_LENGTH = 32
#: The names of the bound parameters that carry the HMAC pad blocks.
IPAD_PARAM = "fa_ipad"
OPAD_PARAM = "fa_opad"

_NONCE = 12
_ATTRIBUTE_INFO = b"fedaudit/attribute-key/v1|"
_ID18 = "[0-9]{17}[0-9X]"


class TokenError(NodeError):
    """A task key of the wrong shape, IDs that were not normalised, or a sealed attribute
    that does not open (wrong key, wrong column, or changed on the way)."""


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_LENGTH:
        raise TokenError(f"a task key must be {KEY_LENGTH} bytes; open the task's key "
                         "envelope with node.taskkeys.open_envelope to get it")
    return bytes(key)


def token_params(key: bytes) -> dict[str, bytes]:
    """The BLOB parameters `token_expression` needs: the HMAC pad blocks of key.

    Bind them with the query (``con.sql(sql, params={**token_params(key), ...})``); they
    are as secret as the key itself, so never log them. Raises TokenError if key is not
    32 bytes.
    """
    ipad, opad = hmac_pads(_check_key(key))
    return {IPAD_PARAM: ipad, OPAD_PARAM: opad}


def token_expression(id_sql: str) -> str:
    """A DuckDB expression (VARCHAR, 64 lower-case hex digits) for the token of id_sql.

    id_sql is a SQL expression (usually a quoted column name) holding normalised
    18-character IDs; it is pasted into the SQL, so pass code, never data. The
    expression uses the parameters `$fa_ipad` and `$fa_opad` from `token_params`.
    """
    prefix = TOKEN_PREFIX.replace("'", "''")
    inner = f"sha256(${IPAD_PARAM} || encode('{prefix}' || ({id_sql})))"
    return f"sha256(${OPAD_PARAM} || unhex({inner}))"


def token_of(key: bytes, id18: str) -> str:
    """The token of one normalised ID, computed with Python's hmac (the reference).

    Raises TokenError if key is not 32 bytes.
    """
    message = (TOKEN_PREFIX + id18).encode("utf-8")
    return hmac.new(_check_key(key), message, hashlib.sha256).hexdigest()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Tokenised:
    """A table's usable rows with their tokens, and how many rows were left out and why.

    `relation` has a `token` column followed by every column of the source except the
    ID and status columns; it keeps the key bound, so run it, do not print its SQL with
    the parameters. `sql` and `params` are the same query for embedding elsewhere.
    `counts` maps each status found to its number of rows; `tokenised` is the number of
    rows with a tokenisable status, `excluded` the number of all the others.
    """

    relation: duckdb.DuckDBPyRelation
    sql: str
    params: dict[str, bytes]
    counts: dict[str, int]

    @property
    def tokenised(self) -> int:
        """Rows whose ID is tokenised (status valid or upgraded)."""
        return sum(n for s, n in self.counts.items() if s in TOKENISABLE_STATUSES)

    @property
    def excluded(self) -> int:
        """Rows counted but never tokenised (any other status, or none)."""
        return sum(n for s, n in self.counts.items() if s not in TOKENISABLE_STATUSES)


def tokenise(con: duckdb.DuckDBPyConnection, source: str, id_column: str, key: bytes,
             status_column: str = "id_status") -> Tokenised:
    """Tokenises the IDs of source whose status is valid or upgraded, counting the others.

    source is a table or view name, or a parenthesised subquery, whose id_column was
    normalised by `node.idno.sql_normalise_query` (which adds status_column). source is
    pasted into SQL: pass code, never data; the column names are quoted here. Rows of any
    other status, or none, are counted by status (a NULL status as "missing") and never
    hashed. Raises TokenError if key is not 32 bytes, or if a row marked valid or
    upgraded does not hold an 18-character normalised ID (normalise first); duckdb.Error
    if source or a column does not exist.
    """
    params = token_params(key)
    idc, st = _quote(id_column), _quote(status_column)
    usable = ", ".join(f"'{s}'" for s in TOKENISABLE_STATUSES)
    rows = con.execute(
        f"SELECT coalesce({st}, 'missing') AS status, count(*) AS n, "
        f"count(*) FILTER (WHERE {st} IN ({usable}) "
        f"AND NOT coalesce(regexp_full_match({idc}, '{_ID18}'), false)) AS malformed "
        f"FROM {source} GROUP BY ALL ORDER BY status"
    ).fetchall()
    if any(malformed for _, _, malformed in rows):
        raise TokenError(f"{source}.{id_column} holds IDs marked valid or upgraded that are "
                         "not 18 normalised characters; run them through "
                         "node.idno.sql_normalise_query before tokenising")
    counts = {status: n for status, n, _ in rows}
    sql = (f"SELECT {token_expression(idc)} AS token, * EXCLUDE ({idc}, {st}) "
           f"FROM {source} WHERE {st} IN ({usable})")
    return Tokenised(con.sql(sql, params=params), sql, params, counts)


def attribute_key(task_key: bytes, task_id: str) -> bytes:
    """The AES-256 key that seals a task's attributes: HKDF-SHA256 of K_task, bound to task_id.

    Raises TokenError if task_key is not 32 bytes or task_id is empty.
    """
    key = _check_key(task_key)
    if not isinstance(task_id, str) or not task_id:
        raise TokenError("attribute_key needs the task id the attributes belong to")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=_ATTRIBUTE_INFO + task_id.encode("utf-8"))
    return hkdf.derive(key)


def _aad(column: str, token: str | None) -> bytes:
    if not isinstance(column, str) or not column:
        raise TokenError("a sealed attribute needs the name of its column")
    aad = column.encode("utf-8")
    return aad if token is None else aad + b"|" + token.encode("utf-8")


def seal_attribute(key: bytes, column: str, value: str, *, token: str | None = None) -> str:
    """Encrypts value for the nodes of the task; returns base64 text (nonce + ciphertext).

    key comes from `attribute_key`. The column name is authenticated with the value, and
    so is token when given, so the coordinator cannot move a sealed value to another
    column (or row) unnoticed. Raises TokenError for a key that is not 32 bytes, an empty
    column name, or a value that is not text.
    """
    if not isinstance(value, str):
        raise TokenError(f"a sealed attribute must be text; convert {column} to a string first")
    aes = _aes(key)
    nonce = os.urandom(_NONCE)
    sealed = aes.encrypt(nonce, value.encode("utf-8"), _aad(column, token))
    return base64.b64encode(nonce + sealed).decode("ascii")


def open_attribute(key: bytes, column: str, sealed: str, *, token: str | None = None) -> str:
    """Decrypts what `seal_attribute` returned for the same column (and token, if any).

    Raises TokenError if sealed is not base64, is too short, or does not open: another
    key or task, another column or token, or any changed byte.
    """
    aad = _aad(column, token)
    try:
        raw = base64.b64decode(sealed, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise TokenError(f"the sealed {column} value is not base64; it was changed on the "
                         "way") from exc
    if len(raw) < _NONCE + 16:
        raise TokenError(f"the sealed {column} value is too short to be a sealed attribute")
    try:
        plain = _aes(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad)
    except InvalidTag as exc:
        raise TokenError(f"the sealed {column} value does not open: it was sealed under "
                         "another task key or for another column, or changed on the way; "
                         "do not use it") from exc
    return plain.decode("utf-8")


def _aes(key: bytes) -> AESGCM:
    if not isinstance(key, bytes | bytearray) or len(key) != 32:
        raise TokenError("an attribute key must be 32 bytes; derive it with attribute_key")
    return AESGCM(bytes(key))
