"""An aggregate model's federated result against the same SQL over the union of the data."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from analyses._linkage import RETURNED_TABLE, install_token_function
from analyses._sql import sql_parameters
from analyses.evaluate._truth import EvaluateError
from analyses.manifest import Model

__all__ = ["LOWER_BOUND", "compare_totals", "union_result"]

#: The column `coordinator.combine` adds: true when some node suppressed its part of the row.
LOWER_BOUND = "lower_bound"


def union_result(model: Model, level: str, snapshots: Sequence[Mapping[str, Path]],
                 parameters: Mapping[str, object]) -> pa.Table:
    """Runs `model.sql[level]` once over the union of the nodes' snapshots.

    `snapshots` holds, per node of the level, dataset -> snapshot file (a DuckDB file with
    one table named after the dataset, as ingest writes it). Raises EvaluateError if the
    SQL fails over the union.
    """
    con = duckdb.connect()
    try:
        for dataset in model.datasets[level]:
            parts = []
            for index, files in enumerate(snapshots):
                alias = f"{dataset}_{index}"
                path = str(Path(files[dataset]).resolve()).replace("'", "''")
                con.execute(f"ATTACH '{path}' AS {alias} (READ_ONLY)")
                parts.append(f'SELECT * FROM {alias}.main."{dataset}"')
            con.execute(f'CREATE TEMP VIEW "{dataset}" AS ' + " UNION ALL BY NAME ".join(parts))
        if model.builds_on is not None:
            # All data in one place: the enrolments of every node are local, nothing is
            # returned, and any key gives the same answer.
            install_token_function(con, secrets.token_bytes(32))
            con.execute(f"CREATE TEMP TABLE {RETURNED_TABLE} (token VARCHAR)")
        sql = model.sql[level]
        names = sql_parameters(sql, lambda m: EvaluateError(f"{model.id} {level} SQL {m}"))
        return con.sql(sql, params={n: parameters[n] for n in names}).to_arrow_table()
    except duckdb.Error as exc:
        raise EvaluateError(f"{model.id}: its {level} SQL failed over the union of the nodes' "
                            f"data: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


def _sum(rows: Iterable[Mapping[str, Any]], name: str) -> Any:
    values = [row[name] for row in rows if row.get(name) is not None]
    return sum(values[1:], values[0]) if values else None


def _same(a: Any, b: Any) -> bool | None:
    """Whether two totals agree (floats within rounding); None when the direct one is None."""
    if b is None:
        return None
    if a is None:
        return False
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def compare_totals(combined: pa.Table, direct: Sequence[pa.Table], columns: Sequence[str],
                   dimensions: Sequence[str] = (), *, count: str | None = None,
                   suppressed: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """Compares the national totals of `columns` in the combined result and the direct ones.

    A row of `combined` is suppressed when its ``lower_bound`` is true (the mark of
    `coordinator.combine`) or its `count` column is NULL; `suppressed` says that some node
    suppressed cells even if no row shows it. The federated totals are then lower bounds,
    and the totals of the released cells are compared instead: the combined rows not
    suppressed against the direct rows of the same cells (the same values of the
    `dimensions` that the direct result fills; dimensions only the combine step fills,
    such as ``node``, are ignored).

    Returns the verdict and one dict per column: column, federated, direct and equal
    (None for a column the direct result leaves empty, as the combine step fills it),
    plus released_federated, released_direct and released_equal when a cell was
    suppressed. The verdict is "equal" (nothing suppressed, every total equal), "lower
    bound" (cells suppressed, the released cells' totals equal), "differs", or "not
    compared" when the direct result fills none of `columns`.
    """
    fed_rows = combined.to_pylist()
    direct_rows = [row for table in direct for row in table.to_pylist()]
    lower = [bool(row.get(LOWER_BOUND)) or (count is not None and row.get(count) is None)
             for row in fed_rows]
    suppressed = suppressed or any(lower)
    if suppressed:
        keys = [d for d in dimensions if any(row.get(d) is not None for row in direct_rows)]
        fed_released = [row for row, low in zip(fed_rows, lower, strict=True) if not low]
        cells = {tuple(row.get(d) for d in keys) for row in fed_released}
        direct_released = [row for row in direct_rows
                           if tuple(row.get(d) for d in keys) in cells]
    results, checks = [], []
    for name in columns:
        total = {"column": name, "federated": _sum(fed_rows, name),
                 "direct": _sum(direct_rows, name)}
        total["equal"] = _same(total["federated"], total["direct"])
        check = total["equal"]
        if suppressed:
            total["released_federated"] = _sum(fed_released, name)
            total["released_direct"] = _sum(direct_released, name)
            total["released_equal"] = check = _same(total["released_federated"],
                                                    total["released_direct"])
            if total["direct"] is None:
                total["released_equal"] = check = None
        results.append(total)
        if check is not None:
            checks.append(check)
    if not checks:
        return "not compared", results
    if not all(checks):
        return "differs", results
    return ("lower bound" if suppressed else "equal"), results
