"""The linkage declaration of a model and the token function its SQL calls.

A linkage model (DESIGN §5) has an output of kind ``flags`` and a ``[linkage]`` table::

    [linkage]
    pattern = "registry_attributes"   # or "cross_node", "presence" or "local"
    match_on = []                     # cross_node only: attribute columns compared in clear
    registry_datasets = "all"         # registry_attributes: "any" lets each registry node
                                      # hold only some of the registry datasets

- ``registry_attributes``: a token of a non-registry node (a province) matches when a
  registry node (e.g. the death register) submitted it too; the province gets back its
  matched tokens with the registry's attribute columns. All levels return the same
  declared columns; non-registry levels return the attributes as typed NULLs.
- ``cross_node``: a row (token and the ``match_on`` columns) matches when another node
  submitted the same token and values; each node gets back its matched rows and
  ``other_nodes``, how many other nodes hold them (never which).
- ``presence``: each row says on which ``side`` it stands: ``probe`` (a person the node
  asks about, e.g. an assistance recipient not enrolled in a pension here) or ``present``
  (a person the node holds, e.g. everyone enrolled here). A probe matches when ANOTHER
  node submitted the same token as present; each node gets back its matched probe tokens,
  and present rows are never returned. Random dummy rows never match, so padding does not
  change the answer. Such a model has no resolve SQL: a match is a fact (the person is
  present elsewhere), not a case; the node keeps its return for a later task that
  ``builds_on`` it (below).
- ``local``: flags found within one node's own records (e.g. split hospitalisation);
  nothing is joined. Each node draws a task key of its own (no originator, no envelopes),
  and the coordinator hands each node back its own token set, so that cases open through
  the same return and verification path as for joined flags; HQ sees the counts in the
  nodes' verification reports.

Attribute columns not in ``match_on`` travel sealed (AES-256-GCM under a key derived from
the task key, `node.tokens.seal_attribute`): the coordinator joins on tokens and never reads
them. The node SQL computes tokens with ``fa_token(id, id_status)``, a macro the node
installs in its sandbox for linkage tasks only (`install_token_function`): HMAC-SHA256
of ``"cnid/v1|" + id`` under the task key, in lowercase hex, or NULL when the status is
not ``valid`` or ``upgraded`` (invalid IDs are never tokenised). The key itself sits in
a temporary table that model SQL may not name.

With ``registry_datasets = "any"`` the registry level's datasets are sources of which each
registry node may hold only some (vehicles at one registry, real estate at another): a
registry node runs the model when it holds at least one, and reads the others as empty
tables of their standard's columns (`empty_table_sql`).

The model's resolve SQL re-identifies the returned tokens at the node: it reads the
level's datasets and the table ``returned`` and returns one row per case line, starting
with `RESOLVE_COLUMNS`.

A model of any kind may build on the return of an earlier ``presence`` task::

    [builds_on]
    model = "assistance.enrolled_elsewhere"   # the presence model
    parameter = "enrolment_task"              # a string parameter, default "": its task id

When the task names an earlier task in that parameter, the node runs the model's SQL with
that task's key (``fa_token`` gives the same tokens as then) and its return as the table
``returned`` (one ``token`` column), so an aggregate can leave out persons present at
other nodes, and still pass the node's own disclosure control. The node refuses the task
(PRIOR_UNAVAILABLE, before consuming it) when it did not run that task, the task ran
another model, its return has not been processed yet, its key is gone, or a dataset both
models read was ingested again since. With the parameter empty, ``returned`` is empty and
``fa_token`` uses a throw-away key: the model then sees this node's data alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from analyses._output import Output
from analyses._toml import Table

__all__ = [
    "CROSS_NODE",
    "LOCAL",
    "PRESENCE",
    "PRESENT",
    "PROBE",
    "SIDE",
    "TASK_ID",
    "BuildsOn",
    "KEY_TABLE",
    "PATTERNS",
    "REGISTRY_ATTRIBUTES",
    "RESOLVE_COLUMNS",
    "RETURNED_TABLE",
    "TOKEN_FUNCTION",
    "TOKEN_PREFIX",
    "Linkage",
    "hmac_pads",
    "empty_table_sql",
    "install_token_function",
    "missing_datasets",
    "read_builds_on",
    "read_linkage",
    "uses_token_function",
]

REGISTRY_ATTRIBUTES = "registry_attributes"
CROSS_NODE = "cross_node"
LOCAL = "local"
PRESENCE = "presence"
PATTERNS = (REGISTRY_ATTRIBUTES, CROSS_NODE, PRESENCE, LOCAL)
#: The attribute column of a presence model saying which side a row stands on, and its values.
SIDE = "side"
PROBE = "probe"
PRESENT = "present"
#: The domain-separation prefix hashed in front of every ID (DESIGN §5).
TOKEN_PREFIX = "cnid/v1|"
#: The macro node SQL calls: fa_token(id, id_status) -> VARCHAR or NULL.
TOKEN_FUNCTION = "fa_token"
#: The temporary table holding the HMAC pad blocks; model SQL may never name it.
KEY_TABLE = "fa_task_key"
#: The table the resolve SQL reads: the node's returned tokens with their attributes.
RETURNED_TABLE = "returned"
#: The first columns of a resolve SQL's output, with their DuckDB types.
RESOLVE_COLUMNS = (("token", "VARCHAR"), ("subject_id", "VARCHAR"),
                   ("subject_name", "VARCHAR"), ("amount", "DECIMAL(18,2)"))
#: Statuses (from `node.idno`) of the only IDs that may be tokenised.
TOKENISABLE_STATUSES = ("valid", "upgraded")

#: What a task id looks like (`analyses.tasks` draws 16 random bytes, in hex).
TASK_ID = re.compile(r"[0-9a-f]{32}")

_BLOCK = 64  # SHA-256's block size, in bytes.
_KEY_LENGTH = 32
_CALL = re.compile(rf"\b{TOKEN_FUNCTION}\s*\(", re.IGNORECASE)
_KEY_NAME = re.compile(rf"\b{KEY_TABLE}\b", re.IGNORECASE)


@dataclass(frozen=True)
class Linkage:
    """A model's ``[linkage]``: the join pattern and the attributes compared in clear."""

    pattern: str
    match_on: tuple[str, ...] = ()
    #: "all": a registry node needs every registry dataset; "any": at least one.
    registry_datasets: str = "all"

    def sealed_columns(self, output: Output) -> tuple[str, ...]:
        """The attribute columns that leave the node sealed: all but `match_on` (and the
        side of a presence model, which the coordinator reads to join)."""
        clear = set(self.match_on) | ({SIDE} if self.pattern == PRESENCE else set())
        return tuple(c.name for c in output.by_role("attribute") if c.name not in clear)

    @property
    def resolves(self) -> bool:
        """Whether the return opens cases through a resolve SQL (every pattern but
        presence, whose return is kept for a later task)."""
        return self.pattern != PRESENCE

    @property
    def shares_key(self) -> bool:
        """Whether the task key is drawn by an originator and shared with every target
        (joins across nodes), rather than drawn by each node for itself (local)."""
        return self.pattern != LOCAL

    def to_dict(self) -> dict[str, object]:
        return {"pattern": self.pattern, "match_on": list(self.match_on),
                "registry_datasets": self.registry_datasets}


def read_linkage(table: Table, output: Output, levels: tuple[str, ...]) -> Linkage:
    """Reads ``[linkage]``; raises ManifestError naming the key that breaks a rule."""
    pattern = table.string("pattern", check=lambda s: None if s in PATTERNS
                           else f"use one of {', '.join(PATTERNS)}")
    match_on = tuple(table.strings("match_on", required=False) or ())
    registry_datasets = table.string(
        "registry_datasets", required=False,
        check=lambda s: None if s in ("all", "any") else 'use "all" or "any"') or "all"
    table.finish()
    if registry_datasets == "any" and pattern != REGISTRY_ATTRIBUTES:
        raise table.error("registry_datasets", f"only the {REGISTRY_ATTRIBUTES} pattern reads "
                          "registry datasets; remove the key")
    if output.kind != "flags":
        raise table.error("pattern", f"a linkage model releases flags; set [output] kind = "
                          f"\"flags\", not {output.kind!r}")
    token = output.by_role("token")[0].name
    if token != "token":
        raise table.error("pattern", f"the token column of a linkage model is named token, "
                          f"not {token!r}")
    attributes = {c.name for c in output.by_role("attribute")}
    for i, name in enumerate(match_on):
        if name not in attributes:
            raise table.error(f"match_on[{i + 1}]", f"{name!r} is not an attribute column of "
                              "[output]")
    if match_on and pattern != CROSS_NODE:
        raise table.error("match_on", f"only the {CROSS_NODE} pattern compares attributes; "
                          "remove match_on")
    if pattern == LOCAL and table.has("match_on") and match_on:
        raise table.error("match_on", "a local model joins nothing; remove match_on")
    if pattern == PRESENCE:
        side = next((c for c in output.columns if c.name == SIDE), None)
        if side is None or side.role != "attribute" or side.type != "VARCHAR":
            raise table.error("pattern", f"a {PRESENCE} model's output has a VARCHAR attribute "
                              f"column {SIDE!r} holding {PROBE!r} or {PRESENT!r}")
    if pattern == REGISTRY_ATTRIBUTES and ("registry" not in levels
                                           or not set(levels) - {"registry"}):
        raise table.error("pattern", f"{REGISTRY_ATTRIBUTES} needs registry datasets and the "
                          "datasets of another level under [datasets]")
    return Linkage(pattern, match_on, registry_datasets)


@dataclass(frozen=True)
class BuildsOn:
    """A model's ``[builds_on]``: the presence model whose return it reads, and the
    parameter that names the earlier task."""

    model: str
    parameter: str

    def prior(self, parameters: dict) -> str:
        """The earlier task named in `parameters`, "" for none."""
        return str(parameters.get(self.parameter) or "").strip()

    def to_dict(self) -> dict[str, str]:
        return {"model": self.model, "parameter": self.parameter}


def read_builds_on(table: Table, parameters: dict) -> BuildsOn:
    """Reads ``[builds_on]``; raises ManifestError naming the key that breaks a rule."""
    model = table.string("model")
    parameter = table.string("parameter")
    table.finish()
    param = parameters.get(parameter)
    if param is None or param.type != "string" or param.default != "":
        raise table.error("parameter", f"{parameter!r} must be a declared parameter of type "
                          '"string" with default "" (the earlier task\'s id, empty for none)')
    return BuildsOn(model, parameter)


def missing_datasets(model, level: str, held) -> list[str]:
    """The datasets of `level` a node holding `held` lacks to run `model`.

    Every dataset of the level is needed, except at the registry level of a model with
    ``registry_datasets = "any"``, where one of them is enough (the others then read as
    empty tables)."""
    wanted = list(model.datasets.get(level, ()))
    absent = [d for d in wanted if d not in set(held)]
    linkage = model.linkage
    if (level == "registry" and linkage is not None and linkage.registry_datasets == "any"
            and len(absent) < len(wanted)):
        return []
    return absent


def empty_table_sql(dataset: str) -> str:
    """CREATE TEMP TABLE of `dataset` with its standard's columns (and id_status), no rows."""
    from analyses.datasets import load_standard

    standard = load_standard(dataset)
    columns = [f'"{c.name}" {c.type}' for c in standard.columns]
    if standard.id_column:
        columns.append('"id_status" VARCHAR')
    return f'CREATE TEMP TABLE "{dataset}" ({", ".join(columns)})'


def uses_token_function(sql: str) -> bool:
    """Whether sql calls fa_token(…)."""
    return bool(_CALL.search(sql))


def names_key_table(sql: str) -> bool:
    """Whether sql names the key table, which no model may read."""
    return bool(_KEY_NAME.search(sql))


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The HMAC-SHA256 inner and outer pad blocks of a 32-byte key (RFC 2104).

    Raises ValueError if key is not 32 bytes."""
    if not isinstance(key, bytes | bytearray) or len(key) != _KEY_LENGTH:
        raise ValueError(f"a task key must be {_KEY_LENGTH} bytes")
    padded = bytes(key).ljust(_BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)


def install_token_function(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Creates the temporary key table and the ``fa_token(id, status)`` macro in con.

    Call it before the connection is locked down. The pads are bound as parameters, so
    the key never appears in SQL text. Raises ValueError if key is not 32 bytes.
    """
    ipad, opad = hmac_pads(key)
    con.execute(f"CREATE TEMP TABLE {KEY_TABLE} AS SELECT $ipad::BLOB AS ipad, "
                "$opad::BLOB AS opad", {"ipad": ipad, "opad": opad})
    usable = ", ".join(f"'{s}'" for s in TOKENISABLE_STATUSES)
    prefix = TOKEN_PREFIX.replace("'", "''")
    con.execute(
        f"CREATE TEMP MACRO {TOKEN_FUNCTION}(id, status) AS CASE WHEN status IN ({usable}) "
        f"THEN sha256((SELECT opad FROM {KEY_TABLE}) || unhex(sha256((SELECT ipad FROM "
        f"{KEY_TABLE}) || encode('{prefix}' || id)))) END")
