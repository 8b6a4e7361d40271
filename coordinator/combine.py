"""The combine step: runs an analysis' combine SQL over the node partials in DuckDB.

The combine SQL reads one table, ``partials``: the union of every node's output rows with
a ``node_id`` VARCHAR column in front (the convention of ``analyses.manifest``). Partials
are memory-mapped, not loaded; DuckDB runs with a memory limit and spills to a temporary
folder next to the result, so a combine larger than memory goes out of core. The
connection reaches no file, network or extension, and parameters are bound as named
parameters (``$name``), never pasted into the SQL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coordinator.results import _PATH_ID, read_partial, replace_atomically
from coordinator.store import StoreError

__all__ = ["DEFAULT_MEMORY_LIMIT", "CombineError", "combine", "combine_summary"]

#: DuckDB's memory limit for one combine; beyond it DuckDB spills to disk. Modest, because
#: the coordinator may combine while it streams results and takes reports.
DEFAULT_MEMORY_LIMIT = "1GB"

#: Rows per Arrow batch fetched from DuckDB and written as one Parquet row-group piece.
_BATCH_ROWS = 65_536

#: The combine SQL sees only the partials: no files, no network, no extensions.
_LOCKED_DOWN = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


class CombineError(StoreError):
    """A combine step that cannot run; the message names the partial or SQL at fault."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (DuckDB's are long)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def spill_connection(folder: Path, prefix: str, memory_limit: str, threads: int | None,
                     error: type[CombineError] = CombineError,
                     **settings: object) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked-down in-memory DuckDB that spills to a temporary folder inside `folder`.

    The connection and the spill folder are gone when the block ends. Raises `error`
    when DuckDB refuses the memory or thread setting.
    """
    spill = tempfile.mkdtemp(dir=folder, prefix=prefix)
    config: dict[str, object] = {**_LOCKED_DOWN, **settings, "memory_limit": memory_limit,
                                 "temp_directory": spill}
    if threads is not None:
        config["threads"] = threads
    try:
        try:
            con = duckdb.connect(":memory:", config=config)
        except duckdb.Error as exc:
            raise error(f"DuckDB cannot start with memory_limit={memory_limit!r} and "
                        f"threads={threads!r}: {first_line(exc)}") from exc
        try:
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _parameters(sql: str, params: Mapping[str, object]) -> frozenset[str]:
    """The ``$name`` parameters of the combine SQL, which must be exactly one SELECT and
    find a value for each of them in params."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise CombineError(f"the combine SQL does not parse: {first_line(exc)}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise CombineError("the combine SQL must be exactly one SELECT statement; fix the "
                           "analysis' combine file")
    names = frozenset(statements[0].named_parameters)
    missing = sorted(names - set(params))
    if missing:
        raise CombineError(f"the combine SQL uses ${missing[0]} but the task gives no value "
                           "for it")
    return names


def _open_partials(partial_paths: Mapping[str, str | os.PathLike[str]]) -> dict[str, pa.Table]:
    """Each node's partial, memory-mapped, after checking they share one schema."""
    if not partial_paths:
        raise CombineError("no node returned a partial, so there is nothing to combine; the "
                           "task fails (see each node's refusal or failure)")
    tables: dict[str, pa.Table] = {}
    first: tuple[str, pa.Schema] | None = None
    for node_id, path in sorted(partial_paths.items()):
        if not isinstance(node_id, str) or not _PATH_ID.fullmatch(node_id):
            raise CombineError(f"{node_id!r} is not a node id")
        try:
            table = read_partial(path)
        except StoreError as exc:
            raise CombineError(f"node {node_id}'s partial cannot be read: {exc}") from exc
        if "node_id" in table.column_names:
            raise CombineError(f"node {node_id}'s partial has a node_id column; the combine "
                               "step adds that column itself, so the node SQL must not")
        if first is None:
            first = (node_id, table.schema)
        elif not table.schema.equals(first[1], check_metadata=False):
            raise CombineError(f"node {node_id}'s partial has columns ({_describe(table.schema)})"
                               f" but node {first[0]}'s has ({_describe(first[1])}); all "
                               "partials of a task must share one schema")
        tables[node_id] = table
    return tables


def _describe(schema: pa.Schema) -> str:
    return ", ".join(f"{field.name} {field.type}" for field in schema)


def _partials_table(tables: Mapping[str, pa.Table]) -> pa.Table:
    """The union of every node's partial with a ``node_id`` VARCHAR column in front.

    One table registered once reads much faster in DuckDB than a view over a UNION ALL
    of one registered table per node (a 16-node combine spent most of its time planning
    that union). The partials' buffers are not copied (they stay memory-mapped); only the
    node_id column is new. Node ids are checked against the id pattern before they get here.
    """
    parts = []
    for node_id, table in tables.items():
        ids = pa.DictionaryArray.from_arrays(
            pa.nulls(table.num_rows, pa.int32()).fill_null(0), pa.array([node_id], pa.string()))
        parts.append(table.add_column(0, pa.field("node_id", pa.string()), ids.cast(pa.string())))
    return pa.concat_tables(parts)


def _empty_dimensions(tables: Mapping[str, pa.Table], dimensions: Sequence[str]) -> list[str]:
    """The dimensions that no partial fills: every value NULL (or '' for text)."""
    empty = []
    for name in dimensions:
        filled = False
        for table in tables.values():
            column = table.column(name)
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                filled = bool(pc.sum(pc.not_equal(column, "")).as_py())
            else:
                filled = column.null_count < len(column)
            if filled:
                break
        if not filled:
            empty.append(name)
    return empty


def _with_lower_bounds(combine_sql: str, dimensions: Sequence[str],
                       filled_at_hq: Sequence[str]) -> str:
    """Wraps the combine SQL so each row says whether some node suppressed its part.

    Dimensions every node leaves empty are filled by the combine (`filled_at_hq`): a
    ``node`` dimension (from `partials.node_id`) is matched on the partial's node id
    instead; any other (e.g. a class HQ computes from the combined figures) is left out
    of the match."""
    keys = [d for d in dimensions if d not in filled_at_hq]
    by_node = "node" in filled_at_hq
    select = [f'"{d}"' for d in keys] + (["node_id"] if by_node else [])
    on = [f'c."{d}" IS NOT DISTINCT FROM m."{d}"' for d in keys]
    on += ['c."node" = m.node_id'] if by_node else []
    on = on or ["true"]
    select = select or ["1 AS all_rows"]
    return (
        f"WITH combined AS ({combine_sql}), marks AS (SELECT {', '.join(select)}, "
        "count(*) FILTER (WHERE disclosure IS NOT NULL) AS parts FROM partials "
        "GROUP BY ALL) "
        "SELECT c.*, CAST(coalesce(m.parts, 0) AS INTEGER) AS suppressed_parts, "
        "coalesce(m.parts, 0) > 0 AS lower_bound "
        f"FROM combined c LEFT JOIN marks m ON {' AND '.join(on)} "
        f"ORDER BY {', '.join(f'c.{chr(34)}{d}{chr(34)}' for d in dimensions)}"
    )


def combine(
    combine_sql: str,
    partial_paths: Mapping[str, str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    params: Mapping[str, object],
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    dimensions: Sequence[str] = (),
) -> int:
    """Runs ``combine_sql`` over the partials and writes the result to Parquet; returns rows.

    ``partial_paths`` maps node id to its stored partial (see ``results.write_partial``);
    an empty partial still contributes its schema. Only the parameters the SQL uses are
    bound, so one bound set serves every SQL file of a model. The Parquet file at
    ``out_path`` appears atomically, and only if the whole combine succeeds. Raises
    CombineError if there is no partial, a partial is unreadable, the partials' schemas
    differ, the SQL is not one SELECT, a parameter it uses has no value, or DuckDB fails;
    OSError if the result folder cannot be written.

    With ``dimensions`` (an aggregate's dimension columns) and partials that carry the
    node's ``disclosure`` marker, each result row also gets ``suppressed_parts`` (how many
    nodes suppressed their part of that cell) and ``lower_bound`` (true when any did: the
    released sums then miss those parts).
    """
    names = _parameters(combine_sql, params)
    tables = _open_partials(partial_paths)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with spill_connection(out.parent, ".combine-spill-", memory_limit, threads) as con:
        try:
            con.register("partials", _partials_table(tables))
            schema = next(iter(tables.values())).schema
            if dimensions and "disclosure" in schema.names and \
                    all(d in schema.names for d in dimensions):
                # Dimensions empty in every partial are filled here (e.g. `node`).
                filled = _empty_dimensions(tables, dimensions)
                combine_sql = _with_lower_bounds(combine_sql, dimensions, filled)
            rows = _write_parquet(con, combine_sql, {name: params[name] for name in names}, out)
        except duckdb.Error as exc:
            raise CombineError(f"the combine SQL failed in DuckDB: {first_line(exc)}") from exc
    return rows


def _write_parquet(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object],
                   out: Path) -> int:
    """Runs sql and writes its rows atomically to the Parquet file out; returns the rows."""
    rows = 0
    reader = con.sql(sql, params=dict(params)).to_arrow_reader(_BATCH_ROWS)
    with replace_atomically(out) as temp:
        with pq.ParquetWriter(temp, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
    return rows


def combine_summary(combine_sql: str, summary: pa.Table, out_path: str | os.PathLike[str],
                    params: Mapping[str, object]) -> int:
    """Runs a linkage model's combine SQL over the blind join's summary; returns rows.

    The SQL reads ``partials``: one row per node that answered, with node_id, level,
    tokens_submitted (padded) and matched (see `coordinator.linkage.JoinResult`). Raises
    CombineError as `combine` does.
    """
    names = _parameters(combine_sql, params)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with spill_connection(out.parent, ".combine-spill-", DEFAULT_MEMORY_LIMIT, None) as con:
        try:
            con.register("partials", summary)
            return _write_parquet(con, combine_sql, {n: params[n] for n in names}, out)
        except duckdb.Error as exc:
            raise CombineError(f"the combine SQL failed in DuckDB: {first_line(exc)}") from exc
