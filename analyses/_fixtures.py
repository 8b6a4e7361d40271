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
of a linkage task on their fixtures instead: their layout and runner are in
``analyses._fixtures_linkage``. Their SQL runs under the fixed key `FIXTURE_KEY`.

A model that **builds on** an earlier presence task (``[builds_on]``) runs its level SQL
under `FIXTURE_KEY` too, with the table ``returned`` made from
``fixtures/<level>/returned.csv`` (see `fixture_returned`), and its datasets need
``id_status`` for ``fa_token`` to give tokens.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from analyses._linkage import RETURNED_TABLE, missing_datasets
from analyses._sql import execute_sql
from analyses._toml import display_path
from analyses.datasets import load_standard
from analyses.errors import AnalysisError, FixtureError
from analyses.manifest import Model

FIXTURES = "fixtures"
#: Ingest adds this column next to a dataset's ID column; fixtures may carry it too.
ID_STATUS = "id_status"
#: The task key of every fixture run: fixed, so runs repeat, and public, so it never
#: serves a real task.
FIXTURE_KEY = hashlib.sha256(b"fedaudit fixtures: a public key, never a task key").digest()
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
    ``<level>_<suffix>``, e.g. ``province_b`` (see ``analyses._fixtures_linkage``).
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

    A linkage model's tables must carry ``id_status`` next to the ID column. At the
    registry level of a model with ``registry_datasets = "any"`` a node may leave out the
    files of the datasets it does not hold (it needs one at least): they read as empty
    tables of their standard's columns, as at a real registry node.
    """
    folder = model.path / FIXTURES / (node or level)
    held = [d for d in model.datasets[level] if (folder / f"{d}.csv").is_file()]
    absent = () if missing_datasets(model, level, held) else \
        [d for d in model.datasets[level] if d not in held]
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
        if dataset in absent:
            tables[dataset] = _empty_table(types)
            continue
        tables[dataset] = _read_csv(path, types, optional=optional)
    return tables


def _empty_table(types: Mapping[str, str]) -> pa.Table:
    """A table with no rows and the columns of `types` (column -> DuckDB type)."""
    con = duckdb.connect(":memory:")
    try:
        select = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in types.items())
        return con.sql(f"SELECT {select} LIMIT 0").to_arrow_table()
    finally:
        con.close()


def run_linkage_sql(sql: str, tables: Mapping[str, pa.Table], params: Mapping[str, object],
                    key: bytes, *, label: str = "model SQL") -> tuple[pa.Table, tuple[str, ...]]:
    """Runs one linkage model SQL statement with ``fa_token`` installed under `key`.

    `analyses._sql.execute_sql` with the key: returns the output and the DuckDB type of
    each column. Raises ModelSQLError when the SQL is not one SELECT, a parameter has no
    value, or DuckDB fails; ValueError when key is not 32 bytes.
    """
    return execute_sql(sql, tables, params, label=label, task_key=key)


def _execute(model: Model, sql: str, tables: Mapping[str, pa.Table],
             params: Mapping[str, object], label: str) -> tuple[pa.Table, tuple[str, ...]]:
    if model.linkage is None and model.builds_on is None:
        return execute_sql(sql, tables, params, label=label)
    return run_linkage_sql(sql, tables, params, FIXTURE_KEY, label=label)


def fixture_returned(model: Model, level: str) -> pa.Table:
    """The ``returned`` table of a model that builds on an earlier presence task: the
    tokens, under `FIXTURE_KEY`, of the ID numbers in ``fixtures/<level>/returned.csv``
    (one column ``id_no``), or no row when the file is absent. Raises FixtureError."""
    path = model.path / FIXTURES / level / "returned.csv"
    ids = _read_csv(path, {"id_no": "VARCHAR"}) if path.is_file() else \
        pa.table({"id_no": pa.array([], pa.string())})
    table, _ = run_linkage_sql("SELECT DISTINCT fa_token(id_no, 'valid') AS token FROM ids "
                               "WHERE id_no IS NOT NULL", {"ids": ids}, {}, FIXTURE_KEY,
                               label=display_path(path))
    return table


def run_level_fixture(model: Model, level: str, node: str | None = None) -> pa.Table:
    """The output of the model's `level` SQL on the fixtures of `node` (by default the node
    named after the level), dominance helpers included.

    Raises FixtureError for unreadable fixtures, ParameterError for bad fixture
    parameters, and ModelSQLError when the SQL fails.
    """
    label = f"{display_path(model.path / model.sql_files[level])}"
    return _execute(model, model.node_sql[level], _level_inputs(model, level, node),
                    fixture_parameters(model), label)[0]


def _level_inputs(model: Model, level: str, node: str | None = None) -> dict[str, pa.Table]:
    """The tables a level's SQL reads in the fixtures: the datasets, and ``returned`` for a
    model that builds on an earlier task."""
    inputs = fixture_inputs(model, level, node)
    if model.builds_on is not None:
        inputs[RETURNED_TABLE] = fixture_returned(model, node or level)
    return inputs


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
            inputs = _level_inputs(model, stage)
            sql = model.node_sql[stage]
        actual, types = _execute(model, sql, inputs, params, label)
        problems = []
        if stage != "combine" or model.kind == "aggregate":
            problems += _check_schema(model, stage, actual, types)
        if stage != "combine":
            datasets = {d: t for d, t in inputs.items() if d != RETURNED_TABLE}
            problems += _check_local_only(datasets, actual, stage)
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
    ``resolve:<node>`` (``return:<node>`` for a presence model) for each node that
    receives tokens, then ``combine``.
    """
    if model.linkage is None:
        return [*model.levels, "combine"]
    from analyses._fixtures_linkage import receiving_nodes

    nodes = fixture_nodes(model)
    step = "resolve" if model.linkage.resolves else "return"
    return [*nodes, *(f"{step}:{n}" for n in receiving_nodes(model, nodes)), "combine"]


def run_fixtures(model: Model) -> list[FixtureResult]:
    """Runs every stage of the model's fixtures (see `fixture_stages`); one result each.

    Never raises for a failing fixture: each problem (missing file, SQL error, schema or
    value difference) is reported in its stage's result. See `check_fixtures`.
    """
    if model.linkage is not None:
        from analyses._fixtures_linkage import _run_linkage_fixtures

        return _run_linkage_fixtures(model)
    return [_run_stage(model, stage) for stage in (*model.levels, "combine")]


def check_fixtures(model: Model) -> None:
    """Raises FixtureError listing every problem when any of the model's fixtures fails."""
    problems = [f"{r.stage}: {p}" for r in run_fixtures(model) for p in r.problems]
    if problems:
        raise FixtureError(f"{model.id} fixtures fail:\n  " + "\n  ".join(problems))
