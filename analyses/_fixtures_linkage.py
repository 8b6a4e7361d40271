"""Runs a linkage model's fixtures: each node's SQL, the blind join, each resolve and
the combine.

A linkage model (a ``[linkage]`` table, see ``analyses._linkage``) runs the whole flow of a
linkage task on its fixtures, under the fixed key `analyses._fixtures.FIXTURE_KEY`. The
checks shared with other models (output schema, local-only columns, the CSV formats) are
those of ``analyses._fixtures``. The layout of its ``fixtures/`` folder:

- *Nodes.* Each folder ``L/`` or ``L_<suffix>/`` (L a level of the model, suffix in
  lower_snake_case) is one node of level L, named after its folder, e.g. ``province/``,
  ``province_b/`` and ``registry/``. Its stage is the node SQL of level L over the
  folder's CSV files, compared with ``expected_<folder>.csv``. Every dataset with an ID
  column carries ``id_status`` next to it, as ingest sets it (``valid``, ``upgraded``, or
  a failing status such as ``bad_checksum``, whose ID is never tokenised); ID numbers are
  written as ingest stores them (normalised, 18 characters). For a model with
  ``registry_datasets = "any"``, each registry node (``registry/``, ``registry_<suffix>/``)
  holds the files of some of the registry datasets only, as the real registries do; the
  others read as empty tables of their standard's columns.
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
- *Presence.* A ``presence`` model has no resolve step: each node's stage
  ``return:<folder>`` compares what it gets back (its probe tokens that another node sent
  as present, written as ID numbers) with ``expected_return_<folder>.csv``.
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

from collections.abc import Iterable, Mapping, Sequence

import duckdb
import pyarrow as pa

from analyses._fixtures import (
    FIXTURE_KEY,
    FIXTURES,
    ID_STATUS,
    FixtureResult,
    _check_local_only,
    _check_schema,
    _compare,
    _execute,
    _read_csv,
    fixture_inputs,
    fixture_nodes,
    fixture_parameters,
    fixture_stages,
    run_linkage_sql,
)
from analyses._linkage import (
    CROSS_NODE,
    LOCAL,
    PRESENCE,
    PRESENT,
    PROBE,
    RESOLVE_COLUMNS,
    RETURNED_TABLE,
    SIDE,
    TOKEN_FUNCTION,
)
from analyses._sql import _CONFIG, execute_sql
from analyses._toml import display_path
from analyses.datasets import load_standard
from analyses.errors import AnalysisError, FixtureError
from analyses.manifest import Model

#: What the combine step of a linkage model reads as `partials`: the blind join's summary.
JOIN_SUMMARY = {"node_id": "VARCHAR", "level": "VARCHAR", "tokens_submitted": "BIGINT",
                "matched": "BIGINT"}
#: The column a cross_node return adds: how many other nodes hold the row.
OTHER_NODES = "other_nodes"
REGISTRY = "registry"
TOKEN = "token"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def receiving_nodes(model: Model, levels: Mapping[str, str]) -> list[str]:
    """The nodes (of `levels`, node -> level) a linkage model's blind join returns tokens to:
    every node for ``cross_node``, every non-registry node for ``registry_attributes``."""
    if model.linkage is not None and model.linkage.pattern in (CROSS_NODE, LOCAL, PRESENCE):
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
    if model.linkage.pattern == PRESENCE:
        return _presence_link(outputs, levels)
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


def _presence_link(outputs: Mapping[str, pa.Table],
                   levels: Mapping[str, str]) -> tuple[dict[str, pa.Table], pa.Table]:
    """The presence join: each node's probe tokens that another node sent as present."""
    def tokens(table: pa.Table, side: str) -> set[str]:
        return {t for t, s in zip(table[TOKEN].to_pylist(), table[SIDE].to_pylist(),
                                  strict=True) if t is not None and s == side}

    returned = {}
    for node, table in outputs.items():
        elsewhere = set().union(*(tokens(t, PRESENT) for n, t in outputs.items() if n != node))
        returned[node] = pa.table({TOKEN: pa.array(sorted(tokens(table, PROBE) & elsewhere),
                                                   pa.string())})
    summary = pa.table({
        "node_id": pa.array(list(outputs), pa.string()),
        "level": pa.array([levels[n] for n in outputs], pa.string()),
        "tokens_submitted": pa.array([t.num_rows for t in outputs.values()], pa.int64()),
        "matched": pa.array([returned[n].num_rows for n in outputs], pa.int64()),
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
    if model.linkage.pattern not in (CROSS_NODE, PRESENCE) and level != REGISTRY:
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
    step = "resolve" if model.linkage.resolves else "return"
    failed = [n for n in nodes if n not in outputs]
    returns = {}
    if failed:
        for node in receivers:
            results[f"{step}:{node}"] = FixtureResult(model.id, f"{step}:{node}", (
                f"not run: the stage of node {', '.join(failed)} failed",))
    else:
        try:
            returns, _ = link(model, outputs, nodes)
        except FixtureError as exc:
            for node in receivers:
                results[f"{step}:{node}"] = FixtureResult(model.id, f"{step}:{node}",
                                                          (str(exc),))
    for node, returned in returns.items():
        if not model.linkage.resolves:
            stage = f"return:{node}"
            shown, unknown = readable_tokens(returned, dictionary, stage)
            try:
                problems = unknown + _compare(folder / f"expected_return_{node}.csv", shown,
                                              ("VARCHAR",))
            except FixtureError as exc:
                problems = [*unknown, str(exc)]
            results[stage] = FixtureResult(model.id, stage, tuple(problems), returned.num_rows)
            continue
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
