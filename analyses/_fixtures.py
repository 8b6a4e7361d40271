"""Runs a model's fixtures through its SQL and compares the output with the expected files.

A model's ``fixtures/`` folder holds, for each node level L that runs the model:
``L/<dataset>.csv`` (one file per dataset the level reads, columns of the dataset
standard; optional columns may be left out and read as NULL) and ``expected_L.csv``.
For the combine step: ``partials.csv`` (``node_id`` then the declared output columns,
rows of at least two nodes) and ``expected_combine.csv``. An optional ``params.toml``
gives parameter values (``name = value``, TOML types; decimals as strings); missing
ones take their defaults. Expected rows are compared as a multiset after casting each
expected value to the type of the column returned, so ``6150.0`` equals ``6150.00``.

Besides the values, each level's output must have exactly the declared output columns
and types, and must neither be named like nor contain values of a local-only column of
its inputs.

A measure declared with ``dominance = true`` makes the level's SQL return its helper
columns ``<m>__top1`` and ``<m>__top2`` right after the declared columns (see
``analyses.manifest``). The level stage runs the SQL file as written (`Model.node_sql`),
so ``expected_L.csv`` lists the helper columns too, hand-checked like the rest (empty
for NULL), and the helpers must hold what the node's disclosure engine accepts:
non-negative, the second never above the first, no second without a first. The combine
stage never sees them: ``partials.csv`` has the declared columns only, as a node
releases them.

**Linkage models** (a ``[linkage]`` table, see ``analyses._linkage``) run the whole flow
of a linkage task on their fixtures, under the fixed key `FIXTURE_KEY`:

- *Nodes.* Each folder ``L/`` or ``L_<suffix>/`` (L a level of the model, suffix in
  lower_snake_case) is one node of level L, named after its folder, e.g. ``province/``,
  ``province_b/`` and ``registry/``. Its stage is the node SQL of level L over the
  folder's CSV files, compared with ``expected_<folder>.csv``. Every dataset with an ID
  column carries ``id_status`` next to it, as ingest sets it (``valid``, ``upgraded``, or
  a failing status such as ``bad_checksum``, whose ID is never tokenised); ID numbers are
  written as ingest stores them (normalised, 18 characters).
- *Readable tokens.* Tokens depend on the key, so expected files write each token as the
  ID number it tokenises: the runner maps every token back through a dictionary of the
  fixture's tokenisable IDs. A token of no fixture ID is a problem, and so is a NULL
  token or, in the ``registry_attributes`` pattern, an attribute that a non-registry
  node fills (it must return typed NULLs).
- *Join.* The runner does the blind join in plain SQL, as the coordinator does it:
  ``registry_attributes`` returns to each non-registry node its tokens that a registry
  node sent too, with the registry's attributes (one row per registry row);
  ``cross_node`` returns to each node its rows whose token and ``match_on`` values
  another node sent too, with ``other_nodes`` INTEGER, how many other nodes did.
- *Resolve.* Per receiving node, the resolve SQL runs over the node's CSV files and the
  table ``returned`` (token, then the attribute columns in their declared types, or the
  ``match_on`` columns and ``other_nodes``) and is compared with
  ``expected_resolve_<folder>.csv``, or ``expected_resolve.csv`` when only one node
  receives tokens. Its first columns must be `RESOLVE_COLUMNS`, and it may list only
  tokens the node was given. The stage is named ``resolve:<folder>``.
- *Combine.* ``partials.csv`` holds the blind join's summary as the coordinator passes
  it (`JOIN_SUMMARY`: node_id, level, tokens_submitted with padding, matched), and the
  combine SQL's result is compared with ``expected_combine.csv``.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from analyses._linkage import (
    CROSS_NODE,
    LOCAL,
    RESOLVE_COLUMNS,
    RETURNED_TABLE,
    TOKEN_FUNCTION,
    install_token_function,
)
from analyses._sql import _CONFIG, execute_sql, sql_parameters
from analyses._toml import display_path
from analyses.datasets import load_standard
from analyses.errors import AnalysisError, FixtureError, ModelSQLError
from analyses.manifest import Model

FIXTURES = "fixtures"
#: Ingest adds this column next to a dataset's ID column; fixtures may carry it too.
ID_STATUS = "id_status"
#: The task key of every fixture run: fixed, so runs repeat, and public, so it never
#: serves a real task.
FIXTURE_KEY = hashlib.sha256(b"fedaudit fixtures: a public key, never a task key").digest()
#: What the combine step of a linkage model reads as `partials`: the blind join's summary.
JOIN_SUMMARY = {"node_id": "VARCHAR", "level": "VARCHAR", "tokens_submitted": "BIGINT",
                "matched": "BIGINT"}
#: The column a cross_node return adds: how many other nodes hold the row.
OTHER_NODES = "other_nodes"
REGISTRY = "registry"
TOKEN = "token"
_NODE_FOLDER = re.compile(r"^[a-z]+_[a-z0-9_]+$")


@dataclass(frozen=True)
class FixtureResult:
    """The outcome of one stage (a node, a resolve or "combine") of a model's fixtures."""

    model_id: str
    stage: str
    problems: tuple[str, ...]
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_csv(path: Path, types: Mapping[str, str], *, optional: Sequence[str] = ()) -> pa.Table:
    """Reads a CSV into a table typed by `types` (column -> DuckDB type), in that order.

    Columns named in `optional` may be absent (read as NULL). Raises FixtureError for a
    missing or unreadable file, unknown or missing columns, and values that do not cast.
    """
    where = display_path(path)
    if not path.is_file():
        raise FixtureError(f"{where}: no such fixture file; add it")
    con = duckdb.connect(":memory:")
    try:
        raw = con.sql(
            "SELECT * FROM read_csv($path, header = true, all_varchar = true, delim = ',',"
            " quote = '\"')",
            params={"path": str(path)},
        )
        header = raw.columns
        unknown = [c for c in header if c not in types]
        if unknown:
            raise FixtureError(f"{where}: column {unknown[0]!r} is not expected here; "
                               f"the columns are {', '.join(types)}")
        missing = [c for c in types if c not in header and c not in optional]
        if missing:
            raise FixtureError(f"{where}: column {missing[0]!r} is missing; add it")
        select = ", ".join(
            f'CAST("{c}" AS {t}) AS "{c}"' if c in header else f'CAST(NULL AS {t}) AS "{c}"'
            for c, t in types.items()
        )
        return con.sql(f"SELECT {select} FROM raw").to_arrow_table()
    except duckdb.Error as exc:
        raise FixtureError(f"{where}: cannot read it: {str(exc).splitlines()[0]}") from exc
    finally:
        con.close()


def _rows(table: pa.Table) -> Counter:
    return Counter(tuple(row.values()) for row in table.to_pylist())


def _format_row(row: tuple) -> str:
    return ",".join("" if v is None else str(v) for v in row)


def _compare(path: Path, actual: pa.Table, types: Sequence[str]) -> list[str]:
    """Differences between the expected CSV and the actual output, as readable lines."""
    expected = _read_csv(path, dict(zip(actual.column_names, types, strict=True)))
    want, got = _rows(expected), _rows(actual)
    where = display_path(path)
    problems = [f"{where}: expected row missing: {_format_row(r)}"
                for r in sorted((want - got).elements(), key=_format_row)]
    problems += [f"{where}: unexpected row returned: {_format_row(r)}"
                 for r in sorted((got - want).elements(), key=_format_row)]
    return problems


def _check_schema(model: Model, stage: str, actual: pa.Table, types: Sequence[str]) -> list[str]:
    columns = model.output.columns if stage == "combine" else model.output.node_columns
    declared = [f"{c.name} {c.type}" for c in columns]
    returned = [f"{n} {t}" for n, t in zip(actual.column_names, types, strict=True)]
    if declared == returned:
        return []
    helpers = "" if stage == "combine" or not model.output.helpers else (
        " (the declared columns, then the dominance helpers of each measure with "
        "dominance = true)")
    return [f"{stage} output differs from [output] of the manifest: declared{helpers} "
            f"({', '.join(declared)}), returned ({', '.join(returned)})"]


def _check_helpers(model: Model, stage: str, actual: pa.Table) -> list[str]:
    """Rows whose dominance helpers the node's disclosure engine would refuse."""
    problems = []
    helpers = [c.name for c in model.output.helpers]
    for top1, top2 in zip(helpers[::2], helpers[1::2], strict=True):
        for i, (x1, x2) in enumerate(zip(actual[top1].to_pylist(), actual[top2].to_pylist(),
                                         strict=True)):
            if (x1 is not None and x1 < 0) or (x2 is not None and (x1 is None or x2 < 0
                                                                   or x2 > x1)):
                problems.append(f"{stage} output row {i + 1}: {top1} = {x1}, {top2} = {x2}; "
                                "they must be the largest and second-largest absolute "
                                "contribution of one person to the cell (non-negative, "
                                "largest first)")
    return problems


def _check_local_only(inputs: Mapping[str, pa.Table], output: pa.Table, stage: str) -> list[str]:
    problems = []
    for dataset, table in inputs.items():
        for column in sorted(load_standard(dataset).local_only_columns):
            if column in output.column_names:
                problems.append(f"{stage} output has column {column}, local-only in {dataset}")
            secret = pc.unique(table[column].drop_null()).cast(pa.string())
            for name in output.column_names:
                if pa.types.is_string(output[name].type) and len(secret) and pc.any(
                    pc.is_in(output[name], value_set=secret)
                ).as_py():
                    problems.append(f"{stage} output column {name} returns values of "
                                    f"{dataset}.{column}, which is local-only")
    return problems


def fixture_parameters(model: Model) -> dict[str, object]:
    """The bound parameters of the fixture run; raises FixtureError or ParameterError."""
    path = model.path / FIXTURES / "params.toml"
    if not path.is_file():
        return model.bind_parameters({})
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FixtureError(f"{display_path(path)}: cannot read it: {exc}") from exc
    values = {}
    known = {p.name: p for p in model.parameters}
    for name, value in raw.items():
        if isinstance(value, str) and name in known and known[name].type not in ("string", "code"):
            value = known[name].parse(value)
        values[name] = value
    return model.bind_parameters(values)


def fixture_nodes(model: Model) -> dict[str, str]:
    """The fixture nodes of `model`: folder name -> node level, in stage order.

    Every level has a node named after it. A linkage model may add nodes in folders
    ``<level>_<suffix>``, e.g. ``province_b`` (see the module docstring).
    """
    folders = []
    if model.linkage is not None and (model.path / FIXTURES).is_dir():
        folders = sorted(p.name for p in (model.path / FIXTURES).iterdir()
                         if p.is_dir() and _NODE_FOLDER.match(p.name))
    nodes = {}
    for level in model.levels:
        nodes[level] = level
        nodes.update({name: level for name in folders if name.startswith(level + "_")})
    return nodes


def fixture_inputs(model: Model, level: str, node: str | None = None) -> dict[str, pa.Table]:
    """The fixture tables of one node of `level` (by default the node named after the level),
    typed by their dataset standards; raises FixtureError.

    A linkage model's tables must carry ``id_status`` next to the ID column.
    """
    tables = {}
    for dataset in model.datasets[level]:
        standard = load_standard(dataset)
        types = dict(standard.types)
        optional = [c.name for c in standard.columns if not c.required]
        if standard.id_column:
            types[ID_STATUS] = "VARCHAR"
            if model.linkage is None:
                optional.append(ID_STATUS)
        path = model.path / FIXTURES / (node or level) / f"{dataset}.csv"
        if standard.id_column and model.linkage is not None and path.is_file():
            header = path.read_text(encoding="utf-8").partition("\n")[0].strip().split(",")
            if ID_STATUS not in header:
                raise FixtureError(
                    f"{display_path(path)}: a linkage model's fixtures carry {ID_STATUS} next "
                    f"to {standard.id_column}, as ingest sets it (valid, upgraded, or e.g. "
                    "bad_checksum for an ID never tokenised); add the column")
        tables[dataset] = _read_csv(path, types, optional=optional)
    return tables


def run_linkage_sql(sql: str, tables: Mapping[str, pa.Table], params: Mapping[str, object],
                    key: bytes, *, label: str = "model SQL") -> tuple[pa.Table, tuple[str, ...]]:
    """Runs one linkage model SQL statement with ``fa_token`` installed under `key`.

    Like `analyses._sql.execute_sql` (tables registered under their names, parameters
    bound), returning the output and the DuckDB type of each column. Raises
    ModelSQLError when the SQL is not one SELECT, a parameter has no value, or DuckDB
    fails; ValueError when key is not 32 bytes.
    """
    names = sql_parameters(sql, lambda msg: ModelSQLError(f"{label}: {msg}"))
    missing = sorted(names - set(params))
    if missing:
        raise ModelSQLError(f"{label}: uses ${missing[0]} but no value was given for it")
    con = duckdb.connect(":memory:", config=_CONFIG)
    try:
        install_token_function(con, key)
        for name, table in tables.items():
            con.register(name, table)
        relation = con.sql(sql, params={name: params[name] for name in names})
        return relation.to_arrow_table(), tuple(str(t) for t in relation.types)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelSQLError(f"{label}: DuckDB failed: {first}") from exc
    finally:
        con.close()


def _execute(model: Model, sql: str, tables: Mapping[str, pa.Table],
             params: Mapping[str, object], label: str) -> tuple[pa.Table, tuple[str, ...]]:
    if model.linkage is None:
        return execute_sql(sql, tables, params, label=label)
    return run_linkage_sql(sql, tables, params, FIXTURE_KEY, label=label)


def run_level_fixture(model: Model, level: str, node: str | None = None) -> pa.Table:
    """The output of the model's `level` SQL on the fixtures of `node` (by default the node
    named after the level), dominance helpers included.

    Raises FixtureError for unreadable fixtures, ParameterError for bad fixture
    parameters, and ModelSQLError when the SQL fails.
    """
    label = f"{display_path(model.path / model.sql_files[level])}"
    return _execute(model, model.node_sql[level], fixture_inputs(model, level, node),
                    fixture_parameters(model), label)[0]


def _run_stage(model: Model, stage: str) -> FixtureResult:
    folder = model.path / FIXTURES
    label = display_path(model.path / model.sql_files[stage])
    try:
        params = fixture_parameters(model)
        if stage == "combine":
            types = {"node_id": "VARCHAR"} | {c.name: c.type for c in model.output.columns}
            inputs = {"partials": _read_csv(folder / "partials.csv", types)}
            sql = model.sql[stage]
        else:
            inputs = fixture_inputs(model, stage)
            sql = model.node_sql[stage]
        actual, types = execute_sql(sql, inputs, params, label=label)
        problems = []
        if stage != "combine" or model.kind == "aggregate":
            problems += _check_schema(model, stage, actual, types)
        if stage != "combine":
            problems += _check_local_only(inputs, actual, stage)
            if not problems:  # helper values are comparable once their types are right
                problems += _check_helpers(model, stage, actual)
        try:
            problems += _compare(folder / f"expected_{stage}.csv", actual, types)
        except FixtureError as exc:  # keep the schema problems that explain it
            problems.append(str(exc))
        return FixtureResult(model.id, stage, tuple(problems), actual.num_rows)
    except AnalysisError as exc:
        return FixtureResult(model.id, stage, (str(exc),))


def fixture_stages(model: Model) -> list[str]:
    """The stages `run_fixtures` reports for `model`, in order.

    The levels then ``combine``; for a linkage model, every fixture node, then
    ``resolve:<node>`` for each node that receives tokens, then ``combine``.
    """
    if model.linkage is None:
        return [*model.levels, "combine"]
    nodes = fixture_nodes(model)
    return [*nodes, *(f"resolve:{n}" for n in receiving_nodes(model, nodes)), "combine"]


def run_fixtures(model: Model) -> list[FixtureResult]:
    """Runs every stage of the model's fixtures (see `fixture_stages`); one result each.

    Never raises for a failing fixture: each problem (missing file, SQL error, schema or
    value difference) is reported in its stage's result. See `check_fixtures`.
    """
    if model.linkage is not None:
        return _run_linkage_fixtures(model)
    return [_run_stage(model, stage) for stage in (*model.levels, "combine")]


def check_fixtures(model: Model) -> None:
    """Raises FixtureError listing every problem when any of the model's fixtures fails."""
    problems = [f"{r.stage}: {p}" for r in run_fixtures(model) for p in r.problems]
    if problems:
        raise FixtureError(f"{model.id} fixtures fail:\n  " + "\n  ".join(problems))


# --- Linkage models ---------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def receiving_nodes(model: Model, levels: Mapping[str, str]) -> list[str]:
    """The nodes (of `levels`, node -> level) a linkage model's blind join returns tokens to:
    every node for ``cross_node``, every non-registry node for ``registry_attributes``."""
    if model.linkage is not None and model.linkage.pattern in (CROSS_NODE, LOCAL):
        return list(levels)
    return [node for node, level in levels.items() if level != REGISTRY]


def token_dictionary(inputs: Iterable[Mapping[str, pa.Table]], key: bytes) -> dict[str, str]:
    """token -> ID number for every tokenisable ID (status valid or upgraded) of the inputs.

    `inputs` are the dataset tables of one or more nodes, with ``id_status`` next to
    each standard's ID column. Raises ValueError when key is not 32 bytes.
    """
    pairs = set()
    for tables in inputs:
        for dataset, table in tables.items():
            column = load_standard(dataset).id_column
            if column and ID_STATUS in table.column_names:
                pairs.update(zip(table[column].to_pylist(), table[ID_STATUS].to_pylist(),
                                 strict=True))
    ids = pa.table({"id": [p[0] for p in pairs], "status": [p[1] for p in pairs]},
                   schema=pa.schema([("id", pa.string()), ("status", pa.string())]))
    table, _ = run_linkage_sql(f"SELECT DISTINCT {TOKEN_FUNCTION}(id, status) AS token, id "
                               "FROM ids", {"ids": ids}, {}, key, label="token dictionary")
    return {t: i for t, i in zip(table["token"].to_pylist(), table["id"].to_pylist(),
                                 strict=True) if t is not None}


def readable_tokens(table: pa.Table, dictionary: Mapping[str, str],
                    stage: str) -> tuple[pa.Table, list[str]]:
    """`table` with its token column written as the ID numbers the tokens stand for.

    Returns the table and the problems: tokens of no ID of the dictionary, kept as
    ``?<token>`` so that the comparison shows them.
    """
    if TOKEN not in table.column_names:
        return table, [f"{stage} output has no {TOKEN} column"]
    values, problems = [], []
    for value in table[TOKEN].to_pylist():
        if value is not None and value not in dictionary:
            problems.append(f"{stage} output has token {value[:16]}…, which is not "
                            f"{TOKEN_FUNCTION}(id, id_status) of any ID in the fixtures")
            values.append(f"?{value}")
        else:
            values.append(None if value is None else dictionary[value])
    index = table.column_names.index(TOKEN)
    return table.set_column(index, TOKEN, pa.array(values, pa.string())), problems


def link(model: Model, outputs: Mapping[str, pa.Table],
         levels: Mapping[str, str]) -> tuple[dict[str, pa.Table], pa.Table]:
    """The blind join of a linkage model, in plain SQL: what each receiving node gets back.

    `outputs` maps node to its node SQL output, `levels` node to level. Returns the
    ``returned`` table of every receiving node (token, then the attribute columns in
    their declared types for ``registry_attributes``; token, the ``match_on`` columns and
    ``other_nodes`` INTEGER for ``cross_node``) and the join summary (`JOIN_SUMMARY`,
    tokens_submitted unpadded). Raises FixtureError when the model has no linkage or a
    registry_attributes join lacks a registry or a receiving node.
    """
    if model.linkage is None:
        raise FixtureError(f"{model.id} has no [linkage]; there is nothing to join")
    if model.linkage.pattern == LOCAL:  # nothing joined: each node gets its own tokens
        returned = {node: pa.table({TOKEN: pa.array(sorted(set(
            t.column(TOKEN).drop_null().to_pylist())), pa.string())})
            for node, t in outputs.items()}
        return returned, pa.table({
            "node_id": pa.array(list(outputs), pa.string()),
            "level": pa.array([levels[n] for n in outputs], pa.string()),
            "tokens_submitted": pa.array([t.num_rows for t in outputs.values()], pa.int64()),
            "matched": pa.nulls(len(outputs), pa.int64())})
    receivers = receiving_nodes(model, levels)
    registry = [n for n in outputs if levels[n] == REGISTRY]
    cross = model.linkage.pattern == CROSS_NODE
    if not cross and (not registry or not receivers):
        raise FixtureError(f"{model.id} joins registry attributes: its fixtures need a "
                           f"{REGISTRY}/ node and a node of another level")
    declared = {c.name: c.type for c in model.output.columns}
    carried = list(model.linkage.match_on) if cross else \
        [c.name for c in model.output.by_role("attribute")]
    casts = "".join(f", CAST({_quote(c)} AS {declared[c]}) AS {_quote(c)}" for c in carried)
    names = {node: f"node_{i}" for i, node in enumerate(outputs)}
    con = duckdb.connect(":memory:", config=_CONFIG)
    try:
        for node, table in outputs.items():
            con.register(names[node], table)
        senders = [n for n in outputs if n in registry or cross]
        con.execute("CREATE TEMP TABLE sent AS " + " UNION ALL ".join(
            f"SELECT DISTINCT $n{i} AS node, {TOKEN}{casts} FROM {names[n]} "
            f"WHERE {TOKEN} IS NOT NULL" for i, n in enumerate(senders)),
            {f"n{i}": n for i, n in enumerate(senders)})
        returned, matched = {}, {}
        columns = ", ".join(_quote(c) for c in [TOKEN, *carried])
        if cross:
            partition = ", ".join(_quote(c) for c in [TOKEN, *carried])
            con.execute(f"CREATE TEMP TABLE hits AS SELECT *, CAST(count(*) OVER (PARTITION BY "
                        f"{partition}) - 1 AS INTEGER) AS {OTHER_NODES} FROM sent "
                        f"QUALIFY {OTHER_NODES} >= 1")
            query = f"SELECT {columns}, {OTHER_NODES} FROM hits WHERE node = $node ORDER BY ALL"
            for node in receivers:
                returned[node] = con.sql(query, params={"node": node}).to_arrow_table()
        else:
            for node in receivers:
                returned[node] = con.sql(
                    f"SELECT {', '.join('r.' + _quote(c) for c in [TOKEN, *carried])} "
                    f"FROM (SELECT DISTINCT {TOKEN} FROM {names[node]} WHERE {TOKEN} IS NOT "
                    f"NULL) c JOIN sent r ON c.{TOKEN} = r.{TOKEN} ORDER BY ALL").to_arrow_table()
            hit = set().union(*(set(t[TOKEN].to_pylist()) for t in returned.values()))
            for node in registry:
                matched[node] = len(set(outputs[node][TOKEN].to_pylist()) & hit)
    except duckdb.Error as exc:
        raise FixtureError(f"{model.id}: the fixture join failed in DuckDB: "
                           f"{str(exc).splitlines()[0]}") from exc
    finally:
        con.close()
    matched |= {node: len(set(t[TOKEN].to_pylist())) for node, t in returned.items()}
    summary = pa.table({
        "node_id": pa.array(list(outputs), pa.string()),
        "level": pa.array([levels[n] for n in outputs], pa.string()),
        "tokens_submitted": pa.array([t.num_rows for t in outputs.values()], pa.int64()),
        "matched": pa.array([matched.get(n, 0) for n in outputs], pa.int64()),
    })
    return returned, summary


def check_resolve_output(actual: pa.Table, types: Sequence[str], returned: pa.Table,
                         stage: str) -> list[str]:
    """Problems of a resolve output: first columns other than `RESOLVE_COLUMNS`, or case
    lines for tokens the node was not given."""
    want = [f"{n} {t}" for n, t in RESOLVE_COLUMNS]
    got = [f"{n} {t}" for n, t in zip(actual.column_names, types, strict=True)]
    if got[:len(want)] != want:
        return [f"{stage} output must start with the columns ({', '.join(want)}); it starts "
                f"with ({', '.join(got[:len(want)])})"]
    given = set(returned[TOKEN].to_pylist())
    foreign = [t for t in actual[TOKEN].to_pylist() if t not in given]
    return [f"{stage} output has {len(foreign)} line(s) for tokens the node was not given; "
            "join the node's data to returned by token"] if foreign else []


def _node_problems(model: Model, level: str, actual: pa.Table) -> list[str]:
    """Linkage rules of a node output: no NULL token, no attribute outside the registry."""
    problems = []
    if TOKEN in actual.column_names and actual[TOKEN].null_count:
        problems.append(f"{level} output has {actual[TOKEN].null_count} row(s) with a NULL "
                        f"token; leave out invalid IDs (WHERE {TOKEN} IS NOT NULL)")
    if model.linkage.pattern != CROSS_NODE and level != REGISTRY:
        for column in model.output.by_role("attribute"):
            if column.name in actual.column_names and \
                    actual[column.name].null_count < actual.num_rows:
                problems.append(f"{level} output fills attribute {column.name}, which only a "
                                f"registry node sends; return CAST(NULL AS {column.type})")
    return problems


def _run_linkage_fixtures(model: Model) -> list[FixtureResult]:
    folder = model.path / FIXTURES
    nodes = fixture_nodes(model)
    stages = fixture_stages(model)
    try:
        params = fixture_parameters(model)
    except AnalysisError as exc:
        return [FixtureResult(model.id, stage, (str(exc),)) for stage in stages]
    results: dict[str, FixtureResult] = {}
    inputs, outputs = {}, {}
    for node, level in nodes.items():
        try:
            inputs[node] = fixture_inputs(model, level, node)
        except AnalysisError as exc:
            results[node] = FixtureResult(model.id, node, (str(exc),))
    dictionary = token_dictionary(inputs.values(), FIXTURE_KEY)
    for node in inputs:
        level = nodes[node]
        label = display_path(model.path / model.sql_files[level])
        try:
            actual, types = _execute(model, model.node_sql[level], inputs[node], params, label)
        except AnalysisError as exc:
            results[node] = FixtureResult(model.id, node, (str(exc),))
            continue
        outputs[node] = actual
        problems = _check_schema(model, node, actual, types)
        problems += _check_local_only(inputs[node], actual, node)
        problems += _node_problems(model, level, actual)
        shown, unknown = readable_tokens(actual, dictionary, node)
        problems += unknown
        try:
            problems += _compare(folder / f"expected_{node}.csv", shown, types)
        except FixtureError as exc:
            problems.append(str(exc))
        results[node] = FixtureResult(model.id, node, tuple(problems), actual.num_rows)
    receivers = receiving_nodes(model, nodes)
    failed = [n for n in nodes if n not in outputs]
    returns = {}
    if failed:
        for node in receivers:
            results[f"resolve:{node}"] = FixtureResult(model.id, f"resolve:{node}", (
                f"not run: the stage of node {', '.join(failed)} failed",))
    else:
        try:
            returns, _ = link(model, outputs, nodes)
        except FixtureError as exc:
            for node in receivers:
                results[f"resolve:{node}"] = FixtureResult(model.id, f"resolve:{node}",
                                                           (str(exc),))
    for node, returned in returns.items():
        stage = f"resolve:{node}"
        expected = folder / f"expected_resolve_{node}.csv"
        if not expected.is_file() and len(receivers) == 1:
            expected = folder / "expected_resolve.csv"
        label = display_path(model.path / model.sql_files["resolve"])
        try:
            actual, types = _execute(model, model.sql["resolve"],
                                     {**inputs[node], RETURNED_TABLE: returned}, params, label)
        except AnalysisError as exc:
            results[stage] = FixtureResult(model.id, stage, (str(exc),))
            continue
        problems = check_resolve_output(actual, types, returned, stage)
        shown, unknown = readable_tokens(actual, dictionary, stage)
        problems += unknown
        try:
            problems += _compare(expected, shown, types)
        except FixtureError as exc:
            problems.append(str(exc))
        results[stage] = FixtureResult(model.id, stage, tuple(problems), actual.num_rows)
    results["combine"] = _run_linkage_combine(model, params)
    return [results[stage] for stage in stages]


def _run_linkage_combine(model: Model, params: Mapping[str, object]) -> FixtureResult:
    folder = model.path / FIXTURES
    label = display_path(model.path / model.sql_files["combine"])
    try:
        partials = {"partials": _read_csv(folder / "partials.csv", JOIN_SUMMARY)}
        actual, types = execute_sql(model.sql["combine"], partials, params, label=label)
        problems = _compare(folder / "expected_combine.csv", actual, types)
        return FixtureResult(model.id, "combine", tuple(problems), actual.num_rows)
    except AnalysisError as exc:
        return FixtureResult(model.id, "combine", (str(exc),))
