"""Runs model SQL in a private in-memory DuckDB, with parameters bound, never pasted in."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import duckdb
import pyarrow as pa

from analyses.errors import ModelSQLError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: The in-memory database reaches no file, network or extension: model SQL sees only
#: the tables it is given.
_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def sql_parameters(sql: str, fail: Callable[[str], Exception]) -> frozenset[str]:
    """The `$name` parameters of `sql`, which must be exactly one SELECT statement.

    Raises `fail(message)` when DuckDB cannot parse it, when it holds no or several
    statements, when it is not a SELECT, or when it uses positional parameters.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise fail(f"DuckDB cannot parse it: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise fail(f"holds {len(statements)} statements; a model SQL file is exactly one SELECT")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise fail(f"is a {statement.type.name} statement; a model SQL file is one SELECT")
    names = frozenset(statement.named_parameters)
    if not all(_IDENT.match(name) and not name.isdigit() for name in names):
        raise fail("uses positional parameters (? or $1); name them, e.g. $period_start")
    return names


def select_columns(sql: str, names: Sequence[str]) -> str:
    """`sql` (one SELECT, as `sql_parameters` accepts) wrapped to return only `names`, in order.

    The statement's own ORDER BY still orders the rows: DuckDB keeps the order of a
    subquery through a plain projection. A trailing semicolon is cut off so that the
    statement can sit inside parentheses, and the closing parenthesis goes on a line of
    its own, so that a trailing line comment cannot swallow it.
    """
    # DuckDB's tokenizer reports byte offsets into the UTF-8 text.
    raw = sql.encode("utf-8")
    starts = [start for start, kind in duckdb.tokenize(sql) if kind != duckdb.token_type.comment]
    if starts and raw[starts[-1]:starts[-1] + 1] == b";":
        raw = raw[:starts[-1]] + raw[starts[-1] + 1:]
    body = raw.decode("utf-8")
    columns = ", ".join('"' + name.replace('"', '""') + '"' for name in names)
    return f"SELECT {columns}\nFROM (\n{body}\n) AS node_output\n"


def execute_sql(
    sql: str,
    tables: Mapping[str, pa.Table],
    params: Mapping[str, object],
    *,
    label: str = "model SQL",
    task_key: bytes | None = None,
) -> tuple[pa.Table, tuple[str, ...]]:
    """Like `run_model_sql`, also returning the DuckDB type of each output column.

    With `task_key` (32 bytes), the SQL can call ``fa_token`` (analyses._linkage); raises
    ValueError for a key of another length.
    """
    from analyses._linkage import install_token_function

    names = sql_parameters(sql, lambda msg: ModelSQLError(f"{label}: {msg}"))
    missing = sorted(names - set(params))
    if missing:
        raise ModelSQLError(f"{label}: uses ${missing[0]} but no value was given for it")
    con = duckdb.connect(":memory:", config=_CONFIG)
    try:
        if task_key is not None:
            install_token_function(con, task_key)
        for name, table in tables.items():
            con.register(name, table)
        relation = con.sql(sql, params={name: params[name] for name in names})
        types = tuple(str(t) for t in relation.types)
        return relation.to_arrow_table(), types
    except duckdb.Error as exc:
        raise ModelSQLError(f"{label}: DuckDB failed: {_first_line(exc)}") from exc
    finally:
        con.close()


def partials_table(outputs: Mapping[str, pa.Table]) -> pa.Table:
    """The combine step's `partials` table: every node's output rows, `node_id` first.

    `outputs` maps node id to that node's output. Raises ModelSQLError when the outputs
    do not share one schema (the combine SQL could not read them as one table).
    """
    tables = []
    schema = None
    for node_id, table in outputs.items():
        if schema is not None and not table.schema.equals(schema):
            raise ModelSQLError(f"node {node_id}'s output has columns {table.schema.names} of "
                                "other types than the other nodes'; partials need one schema")
        schema = table.schema
        ids = pa.array([node_id] * table.num_rows, pa.string())
        tables.append(table.add_column(0, "node_id", ids))
    if not tables:
        raise ModelSQLError("no node outputs to combine")
    return pa.concat_tables(tables)


def run_model_sql(
    sql: str, tables: Mapping[str, pa.Table], params: Mapping[str, object]
) -> pa.Table:
    """Runs one model SQL statement over `tables`, registered under their names.

    Parameters are bound as DuckDB named parameters (`$name`); only those the SQL uses
    are passed, so one bound set serves every SQL file of a model. Raises ModelSQLError
    when the SQL is not one SELECT, a parameter it uses has no value, or DuckDB fails.
    """
    return execute_sql(sql, tables, params)[0]
