"""The blind join of a linkage task: matches tokens across nodes, returns each node only its own.

Each node's partial (an Arrow IPC stream, see `coordinator.results`) has a ``token``
VARCHAR column and possibly attribute columns, sealed or not. The coordinator holds no
task key: it sees tokens, set sizes and overlaps, nothing more (DESIGN §5). Two patterns:

- `REGISTRY_ATTRIBUTES` (L1): a token of a non-registry node (e.g. a province paying
  pensions) matches when a registry node (e.g. the death register) submitted it too; the
  node gets back its matched tokens with the registry's attribute columns, one row per
  matching registry row. Registry nodes get nothing back.
- `CROSS_NODE` (L2): a token matches when two or more different nodes submitted it; each
  node gets back its matched tokens and ``other_nodes``, how many other nodes hold the
  token (never which ones).
- `PRESENCE` (L2, one-sided): a row whose ``side`` is ``probe`` matches when another node
  submitted the token with side ``present``; each node gets back its matched probe tokens,
  nothing else. Present rows are never returned.

Safety by construction: every returned row is read from the receiving node's own
partial, tagged with that node when it was read, and files are split by that tag, so a
node's return can hold no token it did not submit. The join runs in DuckDB over the
memory-mapped partials with a memory limit, spilling to a folder next to the returns. To
keep the large grouping cheap it groups 64-bit hashes of the tokens first; hashes that
collide only add candidates, which are then matched on the full token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from analyses._linkage import (
    CROSS_NODE,
    LOCAL,
    PATTERNS,
    PRESENCE,
    PRESENT,
    PROBE,
    REGISTRY_ATTRIBUTES,
    SIDE,
)
from coordinator.combine import DEFAULT_MEMORY_LIMIT, CombineError, first_line, spill_connection
from coordinator.results import _PATH_ID, read_partial, replace_atomically
from coordinator.store import StoreError

__all__ = [
    "CROSS_NODE",
    "PATTERNS",
    "REGISTRY_ATTRIBUTES",
    "REGISTRY_LEVEL",
    "JoinResult",
    "LinkageError",
    "blind_join",
]

#: The roster level of the nodes that hold attributes in the registry_attributes pattern.
REGISTRY_LEVEL = "registry"
TOKEN = "token"
OTHER_NODES = "other_nodes"
RETURN_SUFFIX = ".arrows"

_BATCH_ROWS = 65_536
#: Columns the join adds itself start with this prefix, which partials may not use.
_RESERVED = "_fa_"
_NODE = "_fa_node"


class LinkageError(CombineError):
    """A blind join that cannot run; the message names the partial, node or pattern at fault."""


@dataclass(frozen=True)
class JoinResult:
    """What a blind join produced.

    `returns` maps each receiving node to its return file (an Arrow IPC stream of its own
    matched tokens and the declared attributes, possibly empty). `summary` has one row
    per node that submitted a partial: node_id, level, tokens_submitted (rows submitted,
    padding included) and matched (distinct submitted tokens that matched).
    """

    returns: dict[str, Path]
    summary: pa.Table


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _open(partials: Mapping[str, str | os.PathLike[str]],
          levels: Mapping[str, str]) -> dict[str, pa.Table]:
    """Each node's partial, memory-mapped, after checking ids, levels and the token column."""
    if not partials:
        raise LinkageError("no node returned a partial, so there is nothing to join; the task "
                           "fails (see each node's refusal or failure)")
    tables: dict[str, pa.Table] = {}
    for node_id, path in sorted(partials.items()):
        if not isinstance(node_id, str) or not _PATH_ID.fullmatch(node_id):
            raise LinkageError(f"{node_id!r} is not a node id")
        if not isinstance(levels.get(node_id), str):
            raise LinkageError(f"the level of node {node_id} is not known; pass every node's "
                               "level from the roster")
        try:
            table = read_partial(path)
        except StoreError as exc:
            raise LinkageError(f"node {node_id}'s partial cannot be read: {exc}") from exc
        names = table.column_names
        if len(set(names)) != len(names) or any(n.startswith(_RESERVED) for n in names):
            raise LinkageError(f"node {node_id}'s partial repeats a column name or has a column "
                               f"starting with {_RESERVED}; fix the model's node SQL")
        kind = table.schema.field(TOKEN).type if TOKEN in names else None
        if kind is None or not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                                or pa.types.is_string_view(kind)):
            raise LinkageError(f"node {node_id}'s partial has no {TOKEN} text column; a linkage "
                               "model's node SQL must return one")
        tables[node_id] = table
    return tables


def _union(indexed: list[tuple[int, str]], columns: list[str]) -> str:
    """SQL of the union of the registered partials, each row tagged with its node index."""
    extra = "".join(f", {_quote(c)}" for c in columns)
    parts = [f"SELECT {index}::INTEGER AS {_NODE}, CAST({TOKEN} AS VARCHAR) AS {TOKEN}{extra} "
             f"FROM {name} WHERE {TOKEN} IS NOT NULL" for index, name in indexed]
    return " UNION ALL ".join(parts)


def _cross_node(con: duckdb.DuckDBPyConnection, names: list[str],
                match_on: tuple[str, ...]) -> list[str]:
    """Builds table hits(_fa_node, token, match_on…, other_nodes); returns the returned
    columns. A row matches another node's row with the same token and match_on values."""
    con.execute(f"CREATE TEMP VIEW u AS {_union(list(enumerate(names)), list(match_on))}")
    keys = ", ".join([TOKEN, *(_quote(c) for c in match_on)])
    con.execute(f"CREATE TEMP TABLE candidates AS SELECT hash({keys}) AS h FROM u "
                f"GROUP BY h HAVING min({_NODE}) < max({_NODE})")
    con.execute(
        f"CREATE TEMP TABLE hits AS SELECT {_NODE}, {keys}, "
        f"CAST(count(*) OVER (PARTITION BY {keys}) - 1 AS INTEGER) AS {OTHER_NODES} "
        f"FROM (SELECT DISTINCT {_NODE}, {keys} FROM u "
        f"WHERE hash({keys}) IN (SELECT h FROM candidates)) "
        f"QUALIFY {OTHER_NODES} >= 1")
    return [TOKEN, *match_on, OTHER_NODES]


def _presence(con: duckdb.DuckDBPyConnection, names: list[str]) -> list[str]:
    """Builds table hits(_fa_node, token): each node's probe tokens that another node
    submitted as present."""
    con.execute(f"CREATE TEMP VIEW u AS {_union(list(enumerate(names)), [SIDE])}")
    side = _quote(SIDE)
    con.execute(f"CREATE TEMP TABLE present AS SELECT DISTINCT {_NODE}, {TOKEN} FROM u "
                f"WHERE {side} = '{PRESENT}'")
    con.execute(
        f"CREATE TEMP TABLE hits AS SELECT DISTINCT p.{_NODE}, p.{TOKEN} FROM u p "
        f"WHERE p.{side} = '{PROBE}' AND hash(p.{TOKEN}) IN (SELECT hash({TOKEN}) FROM present) "
        f"AND EXISTS (SELECT 1 FROM present q WHERE q.{TOKEN} = p.{TOKEN} "
        f"AND q.{_NODE} <> p.{_NODE})")
    return [TOKEN]


def _local(con: duckdb.DuckDBPyConnection, names: list[str]) -> list[str]:
    """Builds table hits(_fa_node, token): each node's own tokens, nothing joined."""
    con.execute(f"CREATE TEMP TABLE hits AS {_union(list(enumerate(names)), [])}")
    return [TOKEN]


def _registry_attributes(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table],
                         levels: Mapping[str, str], names: list[str]) -> list[str]:
    """Builds table hits(_fa_node, token, attributes…, _fa_registry); returns the returned
    columns."""
    node_ids = list(tables)
    registry = [i for i, n in enumerate(node_ids) if levels[n] == REGISTRY_LEVEL]
    others = [i for i, n in enumerate(node_ids) if levels[n] != REGISTRY_LEVEL]
    if not registry:
        raise LinkageError(f"the {REGISTRY_ATTRIBUTES} join needs the partial of at least one "
                           "registry node, and none answered; the task fails")
    if not others:
        raise LinkageError(f"the {REGISTRY_ATTRIBUTES} join needs the partial of at least one "
                           "non-registry node, and none answered; the task fails")
    first = node_ids[registry[0]]
    schema = tables[first].schema
    for index in registry[1:]:
        node_id = node_ids[index]
        if not tables[node_id].schema.equals(schema, check_metadata=False):
            raise LinkageError(f"registry nodes {first} and {node_id} returned partials with "
                               "different columns; all registry partials must share one schema")
    attributes = [c for c in schema.names if c != TOKEN]
    con.execute("CREATE TEMP VIEW reg AS "
                + _union([(i, names[i]) for i in registry], attributes))
    con.execute("CREATE TEMP VIEW others AS " + _union([(i, names[i]) for i in others], []))
    selected = "".join(f", r.{_quote(c)}" for c in attributes)
    con.execute(
        f"CREATE TEMP TABLE hits AS SELECT c.{_NODE}, c.{TOKEN}{selected}, "
        f"r.{_NODE} AS _fa_registry "
        f"FROM (SELECT DISTINCT {_NODE}, {TOKEN} FROM others "
        f"WHERE hash({TOKEN}) IN (SELECT hash({TOKEN}) FROM reg)) c "
        f"JOIN reg r ON c.{TOKEN} = r.{TOKEN}")
    return [TOKEN, *attributes]


def _check_side(tables: dict[str, pa.Table]) -> None:
    """Raises LinkageError unless every partial has a text side column."""
    for node_id, table in tables.items():
        field = table.schema.field(SIDE) if SIDE in table.column_names else None
        if field is None or not (pa.types.is_string(field.type)
                                 or pa.types.is_large_string(field.type)):
            raise LinkageError(f"node {node_id}'s partial has no {SIDE} text column; a "
                               f"{PRESENCE} model's node SQL must return one")


def _write_return(con: duckdb.DuckDBPyConnection, index: int, columns: list[str],
                  path: Path) -> None:
    """Writes the hits of node `index` (and only those) as an Arrow IPC stream."""
    select = ", ".join(_quote(c) for c in columns)
    relation = con.sql(f"SELECT {select} FROM hits WHERE {_NODE} = $node ORDER BY ALL",
                       params={"node": index})
    reader = relation.to_arrow_reader(_BATCH_ROWS)
    with replace_atomically(path) as temp:
        with pa.OSFile(str(temp), "wb") as sink, pa.ipc.new_stream(sink, reader.schema) as out:
            for batch in reader:
                out.write_batch(batch)


def _matched(con: duckdb.DuckDBPyConnection, pattern: str) -> dict[int, int]:
    """Distinct matched tokens per node index, registry nodes included."""
    query = f"SELECT {_NODE}, count(DISTINCT {TOKEN}) FROM hits GROUP BY ALL"
    if pattern == REGISTRY_ATTRIBUTES:
        query += (f" UNION ALL SELECT _fa_registry, count(DISTINCT {TOKEN}) FROM hits "
                  "GROUP BY ALL")
    return dict(con.execute(query).fetchall())


def blind_join(
    pattern: str,
    partials: Mapping[str, str | os.PathLike[str]],
    levels: Mapping[str, str],
    out_dir: str | os.PathLike[str],
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    match_on: tuple[str, ...] = (),
) -> JoinResult:
    """Joins the token partials of a linkage task and writes one return file per receiving node.

    pattern is one of `PATTERNS`; partials maps node id to its
    stored partial; levels maps node id to its roster level. Return files are written
    atomically as ``out_dir/<node_id>.arrows``; in the registry pattern only non-registry
    nodes receive one. In the cross_node pattern, `match_on` names partial columns that
    must be equal too (e.g. the period). Raises LinkageError for an unknown pattern, no
    partial, a node without a level, an unreadable partial or one without a token column, registry
    partials of different schemas, a registry pattern without a registry or without a
    receiving node, or a DuckDB failure (out of memory included); OSError if out_dir
    cannot be written.
    """
    if pattern not in PATTERNS:
        raise LinkageError(f"unknown linkage pattern {pattern!r}; the model manifest must name "
                           f"one of {', '.join(PATTERNS)}")
    tables = _open(partials, levels)
    node_ids = list(tables)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Row order carries no meaning here; letting DuckDB drop it saves memory.
    with spill_connection(out, ".linkage-spill-", memory_limit, threads, LinkageError,
                          preserve_insertion_order=False) as con:
        try:
            names = [f"partial_{index}" for index in range(len(node_ids))]
            for name, table in zip(names, tables.values(), strict=True):
                con.register(name, table)
            if pattern == LOCAL:
                columns = _local(con, names)
                receivers = list(range(len(node_ids)))
            elif pattern == CROSS_NODE:
                columns = _cross_node(con, names, tuple(match_on))
                receivers = list(range(len(node_ids)))
            elif pattern == PRESENCE:
                _check_side(tables)
                columns = _presence(con, names)
                receivers = list(range(len(node_ids)))
            else:
                columns = _registry_attributes(con, tables, levels, names)
                receivers = [i for i, n in enumerate(node_ids) if levels[n] != REGISTRY_LEVEL]
            returns = {}
            for index in receivers:
                path = out / f"{node_ids[index]}{RETURN_SUFFIX}"
                _write_return(con, index, columns, path)
                returns[node_ids[index]] = path
            matched = _matched(con, pattern)
        except duckdb.Error as exc:
            raise LinkageError(f"the blind join failed in DuckDB: {first_line(exc)}") from exc
    summary = pa.table({
        "node_id": pa.array(node_ids, pa.string()),
        "level": pa.array([levels[n] for n in node_ids], pa.string()),
        "tokens_submitted": pa.array([tables[n].num_rows for n in node_ids], pa.int64()),
        # A local model matches nothing: the nodes count their own leads.
        "matched": pa.array([None if pattern == LOCAL else matched.get(i, 0)
                             for i in range(len(node_ids))], pa.int64()),
    })
    return JoinResult(returns, summary)
