"""The SQL that loads a file's rows typed per their standard, guarded by the checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from analyses.datasets import DatasetStandard
from node._ingest_report import Check, is_trimmed
from node.idno import sql_normalise_query, sql_unknown_area

__all__ = ["FAILS", "GUARD_ERROR", "UNKNOWN_AREA", "Summary", "TypedQueries", "missing_months",
           "summarise", "typed_queries"]

#: ID statuses whose number can be tokenised.
USABLE_STATUSES = ("valid", "upgraded")
#: Flag columns of the typed table, computed while the rows load (see `typed_queries`).
FAILS, UNKNOWN_AREA = "_fails", "_unknown_area"
#: The error a guarded load raises at the first row that breaks a check.
GUARD_ERROR = "fedaudit-ingest: a row breaks a structural check"


@dataclass(frozen=True)
class TypedQueries:
    """Two SQL queries that read a file's rows typed per its standard (see typed_queries)."""

    #: The snapshot's columns, then the check-only ones: `_bad_` columns and row flags.
    full: str
    #: The snapshot's columns, then UNKNOWN_AREA if the ID column is present; raises
    #: GUARD_ERROR at the first row that breaks a check.
    guarded: str
    #: The columns of `guarded` that the snapshot does not keep.
    extra: tuple[str, ...]


def typed_queries(standard: DatasetStandard, reader: str, found: dict[str, str],
                  present: dict[str, str], checks: list[Check]) -> TypedQueries:
    """SQL casting each present column read by reader (SQL) to its standard type.

    found (the file's columns and their types) is what `build_checks` took; present and
    checks are what it returned. The snapshot's columns are every standard column in
    order (NULL if absent), then `id_status` if the standard has an ID column. For each
    present non-VARCHAR column c, `_bad_c` is the text of a value that did not cast.
    FAILS says whether a row breaks a check, UNKNOWN_AREA whether its ID is usable but
    names no known province; both are a CASE because DuckDB evaluates a CASE condition
    like a WHERE clause, skipping the rest of an AND (such as a trim) for rows that
    already fail its first part. The guarded query evaluates the same checks but stores
    no `_bad_` columns nor FAILS: a file it loads has no row problem at all.

    Coded and formatted text columns are trimmed of surrounding spaces (padding from
    fixed-width exports would break their checks); other text is kept as received.
    DuckDB's casts ignore surrounding spaces themselves, except for booleans.
    """
    inner, bad = [], []
    for col in standard.columns:
        raw_name = present.get(col.name)
        if raw_name is None:
            continue
        q, name = _q(raw_name), _q(col.name)
        if found[raw_name] != "VARCHAR":
            q = f"CAST({q} AS VARCHAR)"
        elif is_trimmed(col):
            q = f"CASE WHEN {q} LIKE ' %' OR {q} LIKE '% ' THEN nullif(trim({q}), '') ELSE {q} END"
        if col.type == "VARCHAR":
            inner.append(f"{q} AS {name}")
            continue
        raw_alias = _q("_raw_" + col.name)
        inner.append(f"TRY_CAST({q} AS {col.type}) AS {name}, {q} AS {raw_alias}")
        bad.append((raw_alias, f"CASE WHEN {name} IS NULL THEN nullif(trim({raw_alias}), '') "
                               f"END AS {_q('_bad_' + col.name)}"))
    query = f"SELECT {', '.join(inner) or '1 AS _none'} FROM {reader}"
    if bad:
        query = (f"SELECT * EXCLUDE ({', '.join(a for a, _ in bad)}), "
                 f"{', '.join(e for _, e in bad)} FROM ({query})")
    with_ids = standard.id_column in present
    if with_ids:
        query = sql_normalise_query(f"({query})", standard.id_column)
    cols = [_q(c.name) if c.name in present else f"NULL::{c.type} AS {_q(c.name)}"
            for c in standard.columns]
    if standard.id_column:
        cols.append("id_status" if with_ids else "'missing' AS id_status")
    bad_columns = [_q("_bad_" + c.name) for c in standard.columns
                   if c.name in present and c.type != "VARCHAR"]
    anything = " OR ".join(f"({c.condition})" for c in checks) or "false"
    flags = [f"CASE WHEN {anything} THEN true ELSE false END AS {FAILS}"]
    if with_ids:
        usable = ", ".join(f"'{s}'" for s in USABLE_STATUSES)
        flags.append(f"CASE WHEN id_status IN ({usable}) AND "
                     f"{sql_unknown_area(_q(standard.id_column))} THEN true ELSE false END "
                     f"AS {UNKNOWN_AREA}")
    # The guard rides on a stored column (the first), so DuckDB cannot prune it away.
    names = [_q(c.name) for c in standard.columns] + (["id_status"] if standard.id_column else [])
    guard = f"CASE WHEN {anything} THEN error('{GUARD_ERROR}') ELSE {names[0]} END AS {names[0]}"
    typed = f"SELECT {', '.join([*cols, *bad_columns])} FROM ({query})"
    return TypedQueries(full=f"SELECT *, {', '.join(flags)} FROM ({typed})",
                        guarded=f"SELECT {', '.join([guard, *names[1:], *flags[1:]])} "
                                f"FROM ({typed})",
                        extra=(UNKNOWN_AREA,) if with_ids else ())


@dataclass(frozen=True)
class Summary:
    """What one scan of the typed table says: size, failing rows, ID statuses, statistics."""

    rows: int
    #: Rows that break at least one check.
    failing: int
    #: Rows per ID status, sorted by status (empty if the ID column is absent).
    id_status_counts: dict[str, int]
    #: Rows with a usable ID whose area code is not a known province.
    unknown_area: int
    data_as_of: dt.date | None
    period_min: dt.date | None
    period_max: dt.date | None
    #: NULL values per standard column.
    null_counts: dict[str, int]


def summarise(con: duckdb.DuckDBPyConnection, table: str, standard: DatasetStandard,
              with_ids: bool, guarded: bool) -> Summary:
    """Counts rows, failing rows, ID statuses and NULLs and reads the date range, in one scan.

    table was loaded by one of the `typed_queries`: the guarded one if guarded (then no
    row fails), else the full one; with_ids says whether the ID column is present. A file
    without problems is the common case, and then this is the only scan the checks need.
    Raises duckdb.Error if the SQL fails (a bug, not a user problem).
    """
    p = _q(standard.period_column) if standard.period_column else "NULL::DATE"
    parts = ["count(*)", "0" if guarded else f"count(*) FILTER (WHERE {FAILS})",
             "max(data_as_of)", f"min({p})", f"max({p})"]
    parts += [f"count(*) - count({_q(c)})" for c in standard.column_names]
    if with_ids:
        parts += ["histogram(id_status)", f"count(*) FILTER (WHERE {UNKNOWN_AREA})"]
    rows, failing, as_of, lo, hi, *rest = con.execute(
        f"SELECT {', '.join(parts)} FROM {table}").fetchone()
    n = len(standard.column_names)
    statuses, unknown = (rest[n] or {}, rest[n + 1]) if with_ids else ({}, 0)
    return Summary(rows=rows, failing=failing, id_status_counts=dict(sorted(statuses.items())),
                   unknown_area=unknown, data_as_of=as_of, period_min=lo, period_max=hi,
                   null_counts=dict(zip(standard.column_names, rest[:n], strict=True)))


def missing_months(con: duckdb.DuckDBPyConnection, table: str, standard: DatasetStandard,
                   lo: dt.date | None, hi: dt.date | None) -> tuple[dt.date, ...]:
    """Months from lo to hi (first days, as in the period column) without rows in table.

    Returns () if the standard has no period column or lo is None. Raises duckdb.Error
    if the table cannot be read.
    """
    if standard.period_column is None or lo is None:
        return ()
    p = _q(standard.period_column)
    return tuple(m for (m,) in con.execute(
        f"SELECT CAST(m AS DATE) AS m FROM generate_series(?::DATE, ?::DATE, "
        f"INTERVAL 1 MONTH) AS g(m) WHERE CAST(m AS DATE) NOT IN "
        f"(SELECT DISTINCT {p} FROM {table} WHERE {p} IS NOT NULL) ORDER BY m",
        [lo, hi]).fetchall())


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
