"""Runs one analysis' node SQL in a locked-down DuckDB connection and checks what it returns.

The sandbox is a fresh in-memory database. Each dataset snapshot the model needs is
ATTACHed ``READ_ONLY`` and shown to the SQL as a temporary view named after the dataset.
Then, before any model SQL runs, the doors are closed: no external access (no file, no
network, no further ATTACH), the local file system disabled outright (so the snapshot files
themselves cannot be re-attached writable or read as blobs), no extension install or
autoload, no community or unsigned extensions, no secrets, no Python replacement scans, no
temporary directory (nothing spills to disk), threads and memory from the node policy, and
``lock_configuration`` so the SQL cannot reopen any of it. Parameters are bound as DuckDB
named parameters, never pasted into the SQL. A watchdog thread interrupts the connection
when the policy's wall-clock limit passes. Only the manifest's declared output columns, in
order and cast to their declared types, can leave the sandbox, then the dominance helpers
(``<m>__top1``, ``<m>__top2``, see ``analyses.manifest``) that the node's disclosure engine
reads and drops.

`ExecutionError.public` and `.code` are safe to report to HQ; `str(error)` may quote
DuckDB's own message, which can contain values from the data, so keep it in the local log.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from analyses import Model, ParameterError
from analyses._linkage import (
    RESOLVE_COLUMNS,
    RETURNED_TABLE,
    empty_table_sql,
    install_token_function,
    missing_datasets,
)
from node.errors import NodeError
from node.policy import Policy

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "ExecutionError",
    "execute",
    "execute_batches",
    "execute_resolve",
    "open_sandbox",
    "output_schema",
]

#: Rows per record batch read from DuckDB; small enough to stream, large enough to be fast.
DEFAULT_BATCH_ROWS = 65_536
_DATASET = re.compile(r"^[a-z][a-z0-9_]*$")
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")
#: How often the watchdog repeats its interrupt once the limit has passed, so an interrupt
#: that lands between two DuckDB calls cannot be lost.
_REINTERRUPT_SECONDS = 0.05

#: Settings fixed when the connection opens; none of them comes from a task.
_CONNECT_CONFIG = {
    "python_enable_replacements": False,  # SQL cannot read Python variables by name.
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "allow_extension_repositories": "forbidden",
    "temp_directory": "",  # No spilling: a run that outgrows memory_limit fails instead.
    "max_temp_directory_size": "0KiB",
}
#: Run after the snapshots are attached and before any model SQL; the order matters:
#: the last statement locks every setting, these included.
_LOCKDOWN = (
    "SET enable_external_access = false",
    "SET disabled_filesystems = 'LocalFileSystem'",
    "SET lock_configuration = true",
)
_SIMPLE_TYPES = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
}


class ExecutionError(NodeError):
    """An analysis run that failed or was stopped, with a stable code.

    Codes: BAD_MODEL, BAD_PARAMETERS, BAD_POLICY, MISSING_DATASET, SANDBOX, TIMEOUT,
    OUT_OF_MEMORY, OUTPUT_MISMATCH, SQL_FAILED. `public` is one sentence without any of
    the node's data; `detail` (in `str(error)` too) is DuckDB's or Arrow's own message.
    """

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        super().__init__(f"{code}: {message}" + (f" ({detail})" if detail else ""))
        self.code = code
        self.public = message
        self.detail = detail


def output_schema(model: Model) -> pa.Schema:
    """The Arrow schema of what `model`'s node SQL returns: its declared columns, in order,
    then the dominance helpers of each measure with ``dominance = true``.

    Raises ExecutionError (BAD_MODEL) for a declared type this executor cannot map.
    """
    return pa.schema([pa.field(c.name, _arrow_type(model, c.type))
                      for c in model.output.node_columns])


def execute(
    model: Model,
    level: str,
    parameters: Mapping[str, object],
    snapshots: Mapping[str, Path],
    policy: Policy,
    task_key: bytes | None = None,
    returned: pa.Table | None = None,
) -> pa.Table:
    """Runs `model.node_sql[level]` over `snapshots` (dataset -> snapshot file) in the sandbox.

    A linkage model needs its task's key (`task_key`, 32 bytes): the sandbox then has the
    ``fa_token(id, status)`` macro of `analyses._linkage`. A model that builds on an
    earlier presence task reads that task's key and its return (`returned`, the table
    ``returned`` of the SQL; see `node.prior`); without them, a random key and no row.

    Returns a table of exactly `output_schema(model)`, helpers included: pass it to
    `node.disclosure.apply_disclosure`. Raises ExecutionError (see its codes) for a level
    the model has no SQL for, parameters that break the model's rules, a missing snapshot,
    SQL that reaches outside the sandbox, the time or memory limit, or output columns
    other than the declared ones and their helpers.
    """
    schema = output_schema(model)
    batches = list(execute_batches(model, level, parameters, snapshots, policy,
                                   task_key=task_key, returned=returned))
    return pa.Table.from_batches(batches, schema=schema)


def execute_resolve(
    model: Model,
    level: str,
    parameters: Mapping[str, object],
    snapshots: Mapping[str, Path],
    policy: Policy,
    task_key: bytes,
    returned: pa.Table,
) -> pa.Table:
    """Runs the model's resolve SQL at the node: re-identifies the returned tokens.

    `returned` is the node's own matched rows with their attributes opened (the table
    ``returned`` of the SQL). The result is local case detail, which never leaves the
    node: one row per case line, starting with `RESOLVE_COLUMNS` (cast to their types),
    then the model's detail columns. Raises ExecutionError as `execute` does, and
    OUTPUT_MISMATCH when the first columns are not `RESOLVE_COLUMNS`.
    """
    if "resolve" not in model.sql or model.linkage is None:
        raise ExecutionError("BAD_MODEL", f"{model.id} has no resolve step; only linkage "
                             "models open cases")
    sql = model.sql["resolve"]
    values = _bound(model, "resolve", sql, parameters)
    needed, empty = _needed(model, level, snapshots)
    where = f"{model.id}@{model.version} (resolve SQL)"
    with open_sandbox(needed, policy, task_key=task_key, empty=empty,
                      tables={RETURNED_TABLE: returned}) as con, \
            _Watchdog(con, policy.timeout_seconds) as dog:
        try:
            table = con.sql(sql, params=values).to_arrow_table()
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise _classify(exc, where, policy, fired=dog.fired) from exc
    names = table.column_names[:len(RESOLVE_COLUMNS)]
    if names != [name for name, _ in RESOLVE_COLUMNS]:
        raise ExecutionError("OUTPUT_MISMATCH", f"{where} must return "
                             f"{', '.join(n for n, _ in RESOLVE_COLUMNS)} first, then detail "
                             f"columns; it returns {table.column_names}")
    schema = pa.schema(list(resolve_schema(model, RESOLVE_COLUMNS))
                       + list(table.schema)[len(RESOLVE_COLUMNS):])
    return pa.Table.from_batches([_conform(where, b, schema) for b in table.to_batches()],
                                 schema=schema)


def resolve_schema(model: Model, columns) -> pa.Schema:
    """The Arrow schema of `columns` ((name, DuckDB type) pairs, e.g. RESOLVE_COLUMNS)."""
    return pa.schema([pa.field(name, _arrow_type(model, kind)) for name, kind in columns])


def execute_batches(
    model: Model,
    level: str,
    parameters: Mapping[str, object],
    snapshots: Mapping[str, Path],
    policy: Policy,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    task_key: bytes | None = None,
    returned: pa.Table | None = None,
) -> Iterator[pa.RecordBatch]:
    """Like `execute`, yielding record batches of `output_schema(model)` as DuckDB makes them.

    The model, its parameters, a dataset absent from `snapshots` and the time limit are
    checked at once (ExecutionError from this call); opening the snapshot files and
    running raise ExecutionError from the iterator. The wall-clock limit covers the
    whole iteration, so a consumer that stalls can run out of time too. Close the
    iterator (or exhaust it) to release the connection.
    """
    sql = _model_sql(model, level)
    values = _bound(model, level, sql, parameters)
    needed, empty = _needed(model, level, snapshots)
    if policy.timeout_seconds < 1:
        raise ExecutionError("BAD_POLICY", "limits.timeout_seconds in the node policy is "
                             f"{policy.timeout_seconds}; set it to at least 1 second")
    if model.linkage is not None and task_key is None:
        raise ExecutionError("BAD_MODEL", f"{model.id} is a linkage model; it runs only with "
                             "its task's key")
    tables = None
    if model.builds_on is not None:
        # Without an earlier task's key and return the model sees this node's data alone.
        task_key = task_key or secrets.token_bytes(32)
        if returned is None:
            returned = pa.table({"token": pa.array([], pa.string())})
        tables = {RETURNED_TABLE: returned}
    schema = output_schema(model)
    keyed = model.linkage is not None or model.builds_on is not None
    return _run(model, level, sql, values, needed, policy, schema, batch_rows,
                task_key if keyed else None, empty, tables)


@contextmanager
def open_sandbox(
    snapshots: Mapping[str, Path], policy: Policy, *, task_key: bytes | None = None,
    tables: Mapping[str, pa.Table] | None = None, empty: Sequence[str] = (),
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked-down in-memory connection where each dataset reads its snapshot, read-only.

    Analyses run through `execute`; this is the sandbox alone, for the executor and for
    tests that prove what it refuses. Raises ExecutionError: MISSING_DATASET when a
    snapshot file is missing or holds no table named after its dataset, BAD_POLICY when
    the policy's memory_limit or threads are not valid DuckDB settings.

    With `task_key`, the ``fa_token`` macro is installed; each of `tables` is copied into
    a temporary table of its name; each dataset of `empty` is an empty table of its
    standard's columns. All of it happens before the doors close.
    """
    config = {**_CONNECT_CONFIG, "threads": policy.threads, "memory_limit": policy.memory_limit}
    try:
        con = duckdb.connect(":memory:", config=config)
    except duckdb.Error as exc:
        raise ExecutionError(
            "BAD_POLICY",
            f"limits.memory_limit = {policy.memory_limit!r} or limits.threads = {policy.threads} "
            "in the node policy is not valid for DuckDB; write e.g. memory_limit = \"2GB\"",
            _first_line(exc),
        ) from exc
    try:
        for index, (dataset, path) in enumerate(sorted(snapshots.items())):
            _attach(con, index, dataset, Path(path))
        for dataset in empty:
            con.execute(empty_table_sql(dataset))
        if task_key is not None:
            install_token_function(con, task_key)
        for name, table in (tables or {}).items():
            con.register("fa_incoming", table)
            con.execute(f'CREATE TEMP TABLE "{name}" AS SELECT * FROM fa_incoming')
            con.unregister("fa_incoming")
        for statement in _LOCKDOWN:
            con.execute(statement)
        yield con
    finally:
        con.close()


def _run(
    model: Model,
    level: str,
    sql: str,
    values: dict[str, object],
    snapshots: dict[str, Path],
    policy: Policy,
    schema: pa.Schema,
    batch_rows: int,
    task_key: bytes | None,
    empty: Sequence[str],
    tables: Mapping[str, pa.Table] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The generator behind `execute_batches`: opens the sandbox, runs, checks, casts."""
    where = f"{model.id}@{model.version} ({level} SQL)"
    with open_sandbox(snapshots, policy, task_key=task_key, empty=empty,
                      tables=tables) as con, \
            _Watchdog(con, policy.timeout_seconds) as dog:
        reader = None
        try:
            relation = con.sql(sql, params=values)
            _check_names(model, where, relation.columns)
            reader = relation.to_arrow_reader(batch_rows)
            _check_types(model, where, reader.schema, schema)
            for batch in reader:
                if dog.fired:
                    raise _timeout(where, policy)
                yield _conform(where, batch, schema)
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise _classify(exc, where, policy, fired=dog.fired) from exc
        finally:
            if reader is not None:
                reader.close()


class _Watchdog:
    """Interrupts the connection when the time limit passes, then keeps at it until the run ends."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._con = con
        self._seconds = seconds
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fedaudit-sandbox-watchdog",
                                        daemon=True)
        self.fired = False

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        if self._done.wait(self._seconds):
            return
        self.fired = True
        while True:
            self._con.interrupt()
            if self._done.wait(_REINTERRUPT_SECONDS):
                return


def _model_sql(model: Model, level: str) -> str:
    if level not in model.datasets or level not in model.node_sql:
        raise ExecutionError("BAD_MODEL", f"{model.id} has no SQL for {level} nodes; it runs at "
                             f"{', '.join(model.levels) or 'no level'}")
    return model.node_sql[level]


def _statement_parameters(model: Model, level: str, sql: str) -> frozenset[str]:
    """The named parameters of `sql`, which must be exactly one SELECT statement.

    The loader checks this too; the executor checks again so that a Model built by hand
    cannot run DDL, SET, ATTACH or COPY even inside the sandbox.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ExecutionError("BAD_MODEL", f"DuckDB cannot parse the {level} SQL of {model.id}",
                             _first_line(exc)) from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise ExecutionError("BAD_MODEL", f"the {level} SQL of {model.id} must be exactly one "
                             f"SELECT statement; it holds {kinds}")
    return frozenset(statements[0].named_parameters)


def _bound(model: Model, role: str, sql: str,
           parameters: Mapping[str, object]) -> dict[str, object]:
    """The typed values of the parameters sql uses (never pasted into it); raises
    ExecutionError BAD_MODEL for SQL that is not one SELECT, BAD_PARAMETERS for values
    that break the model's rules."""
    used = _statement_parameters(model, role, sql)
    try:
        bound = model.bind_parameters(parameters)
    except ParameterError as exc:
        raise ExecutionError("BAD_PARAMETERS", str(exc)) from exc
    return {name: bound[name] for name in sorted(used)}


def _needed(model: Model, level: str,
            snapshots: Mapping[str, Path]) -> tuple[dict[str, Path], list[str]]:
    """(dataset -> snapshot path to attach, datasets to read as empty tables).

    Raises ExecutionError MISSING_DATASET for a dataset the node must hold and lacks."""
    absent = missing_datasets(model, level, snapshots)
    if absent:
        _snapshot_path(snapshots, absent[0])  # raises, naming it
    present = [d for d in model.datasets[level] if d in snapshots]
    empty = [d for d in model.datasets[level] if d not in snapshots]
    return {d: _snapshot_path(snapshots, d) for d in present}, empty


def _snapshot_path(snapshots: Mapping[str, Path], dataset: str) -> Path:
    if dataset not in snapshots:
        raise ExecutionError("MISSING_DATASET", f"this node has no snapshot of {dataset}; ingest "
                             f"one with `fedaudit node ingest {dataset} FILE`")
    return Path(snapshots[dataset])


def _attach(con: duckdb.DuckDBPyConnection, index: int, dataset: str, path: Path) -> None:
    """Attaches one snapshot read-only and exposes its table as a view named `dataset`."""
    if not _DATASET.match(dataset):
        raise ExecutionError("MISSING_DATASET", f"{dataset!r} is not a dataset name")
    path = path.resolve()
    if not path.is_file():
        raise ExecutionError("MISSING_DATASET", f"the snapshot file of {dataset} is missing; "
                             f"re-ingest it with `fedaudit node ingest {dataset} FILE`", str(path))
    alias = f"snapshot_{index}"
    quoted_path = str(path).replace("'", "''")
    try:
        # ATTACH takes no parameters; the path comes from the node catalog, never from a task.
        con.execute(f"ATTACH '{quoted_path}' AS {alias} (READ_ONLY)")
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE database_name = $db AND schema_name = 'main' AND table_name = $table",
            {"db": alias, "table": dataset},
        ).fetchone()[0]
    except duckdb.Error as exc:
        raise ExecutionError("MISSING_DATASET", f"the snapshot file of {dataset} cannot be opened "
                             "as a DuckDB database; re-ingest it", _first_line(exc)) from exc
    if not found:
        raise ExecutionError("MISSING_DATASET", f"the snapshot file of {dataset} holds no table "
                             f"named {dataset}; re-ingest it", str(path))
    con.execute(f'CREATE TEMP VIEW "{dataset}" AS SELECT * FROM {alias}.main."{dataset}"')


def _arrow_type(model: Model, declared: str) -> pa.DataType:
    if declared in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[declared]
    match = _DECIMAL.match(declared)
    if match:
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    raise ExecutionError("BAD_MODEL", f"{model.id} declares an output column of type "
                         f"{declared!r}, which this node cannot release")


def _accepts(declared: pa.DataType, actual: pa.DataType) -> bool:
    """Whether a result column of type `actual` may be cast to the declared type.

    Casts never cross between text and other types, so a number cannot leave as text or
    text be parsed into a number; within a family Arrow's safe cast refuses any loss.
    """
    t = pa.types
    if t.is_null(actual):
        return True
    if t.is_string(declared):
        return t.is_string(actual) or t.is_large_string(actual) or t.is_string_view(actual)
    if t.is_date(declared):
        return t.is_date(actual)
    if t.is_timestamp(declared):
        return t.is_timestamp(actual) and actual.tz is None
    if t.is_boolean(declared):
        return t.is_boolean(actual)
    if t.is_integer(declared):
        return t.is_integer(actual) or (t.is_decimal(actual) and actual.scale == 0)
    if t.is_decimal(declared):
        return t.is_integer(actual) or t.is_decimal(actual)
    return t.is_integer(actual) or t.is_floating(actual) or t.is_decimal(actual)


def _check_names(model: Model, where: str, names: list[str]) -> None:
    declared = [c.name for c in model.output.node_columns]
    if list(names) != declared:
        helpers = (", then the dominance helpers of its measures with dominance = true"
                   if model.output.helpers else "")
        raise ExecutionError("OUTPUT_MISMATCH", f"{where} returns columns {list(names)}, but the "
                             f"manifest declares {declared} (its columns{helpers}), in that "
                             "order; nothing undeclared may leave the sandbox")


def _check_types(model: Model, where: str, actual: pa.Schema, declared: pa.Schema) -> None:
    for want, got in zip(declared, actual, strict=True):
        if not _accepts(want.type, got.type):
            raise ExecutionError("OUTPUT_MISMATCH", f"{where} returns column {want.name} as "
                                 f"{got.type}, but the manifest declares {want.type}; CAST it "
                                 "in the SQL")


def _conform(where: str, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch cast to the declared schema; a lossy cast raises OUTPUT_MISMATCH."""
    if batch.schema.equals(schema):
        return batch
    arrays = []
    for field, column in zip(schema, batch.columns, strict=True):
        try:
            arrays.append(column if column.type == field.type else column.cast(field.type))
        except pa.ArrowException as exc:
            raise ExecutionError("OUTPUT_MISMATCH", f"{where} returns values of column "
                                 f"{field.name} that do not fit its declared type {field.type}",
                                 _first_line(exc)) from exc
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _timeout(where: str, policy: Policy) -> ExecutionError:
    return ExecutionError("TIMEOUT", f"{where} was stopped after the node's time limit of "
                          f"{policy.timeout_seconds} s (limits.timeout_seconds in the policy)")


def _classify(exc: Exception, where: str, policy: Policy, *, fired: bool) -> ExecutionError:
    """The ExecutionError for a DuckDB or Arrow failure while the model SQL ran."""
    detail = _first_line(exc)
    if fired:
        return _timeout(where, policy)
    sandbox = ("Permission Error", "has been locked", "read-only mode", "disabled by configuration")
    if isinstance(exc, duckdb.PermissionException) or any(s in detail for s in sandbox):
        return ExecutionError("SANDBOX", f"{where} tried to reach outside its snapshots (a file, "
                              "the network, an extension or a setting); the sandbox refused it",
                              detail)
    if isinstance(exc, duckdb.OutOfMemoryException) or "Out of Memory" in detail:
        return ExecutionError("OUT_OF_MEMORY", f"{where} needed more than the node's memory "
                              f"limit of {policy.memory_limit} (limits.memory_limit in the "
                              "policy); raise it or narrow the parameters", detail)
    return ExecutionError("SQL_FAILED", f"{where} failed in DuckDB", detail)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
