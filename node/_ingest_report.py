"""The ingest report and the structural checks behind it, built as DuckDB SQL per column."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import duckdb

from analyses.datasets import Column, DatasetStandard

#: How many problems a report lists; the counts cover all of them.
MAX_LISTED = 50

#: Every kind of structural problem, with what the user should do about it.
HINTS = {
    "bad_file": "Export the file again as a CSV with one header row (or as Parquet).",
    "bad_encoding": "Save the file as UTF-8 or GBK, or name its encoding with --encoding.",
    "no_rows": "The file has no data rows; export the data again.",
    "duplicate_column": "Keep one column of each name.",
    "missing_column": "Add the required columns (the header names must match the standard).",
    "unknown_column": "Remove or rename columns that the standard does not have.",
    "wrong_type": "Store each column with the standard's type (Parquet).",
    "unparsable": "Write dates as YYYY-MM-DD, times as YYYY-MM-DD HH:MM:SS, amounts as "
                  "plain numbers (1234.50), booleans as true/false.",
    "null_required": "Fill in the required values.",
    "bad_code": "Use only the codes the standard lists for the column.",
    "too_long": "Shorten the values to the column's maximum length.",
    "bad_format": "Fix the values so they match the column's format (e.g. 6-digit region "
                  "codes).",
    "not_first_of_month": "Write months as the first day of the month, e.g. 2024-03-01.",
    "date_order": "Make sure no end date is before its start date.",
}
_FORMAT_HINT = {"DATE": "a date YYYY-MM-DD", "TIMESTAMP": "a time YYYY-MM-DD HH:MM:SS",
                "INTEGER": "a whole number", "BIGINT": "a whole number",
                "DECIMAL(14,2)": "an amount such as 1234.50", "DOUBLE": "a number",
                "BOOLEAN": "true or false"}
# Source types that can be cast to each standard type (Parquet columns); by prefix.
_INTS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
         "UINTEGER", "UBIGINT", "UHUGEINT")
_COMPATIBLE = {
    "VARCHAR": ("VARCHAR", *_INTS),
    "DATE": ("VARCHAR", "DATE", "TIMESTAMP"),
    "TIMESTAMP": ("VARCHAR", "DATE", "TIMESTAMP"),
    "INTEGER": ("VARCHAR", *_INTS),
    "BIGINT": ("VARCHAR", *_INTS),
    "DECIMAL(14,2)": ("VARCHAR", *_INTS, "DECIMAL", "FLOAT", "DOUBLE"),
    "DOUBLE": ("VARCHAR", *_INTS, "DECIMAL", "FLOAT", "DOUBLE"),
    "BOOLEAN": ("VARCHAR", "BOOLEAN", *_INTS),
}


@dataclass(frozen=True)
class Problem:
    """One structural problem; row is the 1-based data row (None for the whole file)."""

    row: int | None
    column: str | None
    kind: str
    value: str | None
    message: str

    def to_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "kind": self.kind,
                "value": self.value, "message": self.message}


@dataclass(frozen=True)
class Check:
    """A row-level check: SQL over table `typed` selecting the rows that break it."""

    kind: str
    column: str
    condition: str
    value: str


@dataclass(frozen=True)
class IngestReport:
    """What validation found; `accepted` means no structural problem at all."""

    dataset: str
    source: str
    source_sha256: str
    format: str
    encoding: str | None
    rows: int = 0
    #: The first MAX_LISTED problems, by row then column.
    problems: tuple[Problem, ...] = ()
    #: Problems per kind, then per column (file-level problems count once).
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Rows per ID status (see node.idno.STATUSES).
    id_status_counts: dict[str, int] = field(default_factory=dict)
    unknown_area: int = 0
    snapshot_id: str | None = None
    data_as_of: dt.date | None = None

    @property
    def accepted(self) -> bool:
        return not self.counts

    @property
    def problem_total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def with_problems(self, problems: list[Problem],
                      counts: dict[str, dict[str, int]] | None = None,
                      rows: int | None = None) -> IngestReport:
        merged = {k: dict(v) for k, v in (counts or {}).items()}
        for p in problems:
            if p.row is None:
                per_col = merged.setdefault(p.kind, {})
                per_col[p.column or ""] = per_col.get(p.column or "", 0) + 1
        ordered = sorted(problems, key=lambda p: (p.row or 0, p.column or ""))
        return replace(self, problems=tuple(ordered[:MAX_LISTED]), counts=merged,
                       rows=self.rows if rows is None else rows)

    def with_ids(self, status_counts: dict[str, int], unknown_area: int) -> IngestReport:
        return replace(self, id_status_counts=dict(status_counts), unknown_area=unknown_area)

    def ingested(self, snapshot_id: str, data_as_of: dt.date) -> IngestReport:
        return replace(self, snapshot_id=snapshot_id, data_as_of=data_as_of)

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset, "source": self.source,
            "source_sha256": self.source_sha256, "format": self.format,
            "encoding": self.encoding, "rows": self.rows, "accepted": self.accepted,
            "problem_total": self.problem_total,
            "problem_counts": {k: sum(v.values()) for k, v in self.counts.items()},
            "problem_counts_by_column": self.counts,
            "problems": [p.to_dict() for p in self.problems],
            "id_status_counts": self.id_status_counts, "unknown_area": self.unknown_area,
            "snapshot_id": self.snapshot_id,
            "data_as_of": self.data_as_of.isoformat() if self.data_as_of else None,
        }

    def render(self) -> str:
        """The report as text for a person: what was found and what to fix."""
        head = f"{self.dataset} <- {self.source} ({self.format}"
        head += f", {self.encoding})" if self.encoding else ")"
        lines = [head]
        if not self.accepted:
            lines.append(f"REJECTED: {self.problem_total:,} problems in {self.rows:,} rows; "
                         f"nothing was ingested.")
            lines.append("Problems by kind:")
            for kind, per_col in sorted(self.counts.items()):
                cols = ", ".join(f"{c}: {n:,}" if c else f"{n:,}"
                                 for c, n in sorted(per_col.items()))
                lines.append(f"  {kind:<20} {sum(per_col.values()):>10,}  ({cols})")
            lines.append(f"First {len(self.problems)} problems (data row, column):")
            for p in self.problems:
                where = f"row {p.row}" if p.row is not None else "file"
                lines.append(f"  {where:<12} {p.column or '-':<18} {p.kind:<18} {p.message}")
            lines.append("What to fix:")
            lines += [f"  - {kind}: {HINTS[kind]}" for kind in sorted(self.counts)]
            return "\n".join(lines)
        lines.append(f"OK: {self.rows:,} rows, no structural problems.")
        if self.id_status_counts:
            ids = ", ".join(f"{s} {n:,}" for s, n in sorted(self.id_status_counts.items()))
            lines.append(f"ID numbers: {ids}; {self.unknown_area:,} with an unknown area code. "
                         f"Rows with a bad ID are kept and never tokenised.")
        if self.snapshot_id:
            lines.append(f"Snapshot {self.snapshot_id} is now current (data as of "
                         f"{self.data_as_of}).")
        return "\n".join(lines)


def is_trimmed(col: Column) -> bool:
    """Whether ingest trims a column's text: codes and formats would break on padding."""
    return bool(col.codes or col.pattern or col.type == "BOOLEAN")


def build_checks(standard: DatasetStandard, found: dict[str, str]
                 ) -> tuple[list[Check], list[Problem], dict[str, str]]:
    """Matches the file's columns to the standard and builds the row checks.

    found maps the file's column names to their DuckDB types. Returns the checks,
    the file-level problems, and the standard columns present (standard name to the
    file's column name). Header names match case-insensitively, ignoring spaces.
    """
    problems, present, wrong = [], {}, set()
    seen: dict[str, str] = {}
    for raw_name, raw_type in found.items():
        name = raw_name.strip().lower()
        if name in seen:
            problems.append(Problem(None, raw_name, "duplicate_column", None,
                                    f"column {raw_name!r} appears more than once"))
            continue
        seen[name] = raw_name
        if name not in standard.column_names:
            problems.append(Problem(None, raw_name, "unknown_column", None,
                                    f"column {raw_name!r} is not in the standard "
                                    f"{standard.name}"))
            continue
        col = standard.column(name)
        if not raw_type.startswith(_COMPATIBLE[col.type]):
            wrong.add(name)
            problems.append(Problem(None, name, "wrong_type", None,
                                    f"column {name} is {raw_type}; the standard wants "
                                    f"{col.type}"))
            continue
        present[name] = raw_name
    for col in standard.columns:
        if col.required and col.name not in present and col.name not in wrong:
            problems.append(Problem(None, col.name, "missing_column", None,
                                    f"required column {col.name} is missing"))
    checks = []
    for col in standard.columns:
        if col.name not in present:
            continue
        c = _q(col.name)
        if col.type != "VARCHAR":
            checks.append(Check("unparsable", col.name, f"{_q('_bad_' + col.name)} IS NOT NULL",
                                _q("_bad_" + col.name)))
        if col.required and col.name != standard.id_column:
            if col.type == "VARCHAR" and not is_trimmed(col):
                # Free text is kept as received, so a blank value counts as empty here.
                cond = f"{c} IS NULL OR ({c} LIKE ' %' AND trim({c}) = '')"
            elif col.type == "VARCHAR":
                cond = f"{c} IS NULL"
            else:
                cond = f"{c} IS NULL AND {_q('_bad_' + col.name)} IS NULL"
            checks.append(Check("null_required", col.name, cond, "NULL"))
        if col.codes:
            codes = ", ".join(f"'{_s(code)}'" for code in col.codes)
            checks.append(Check("bad_code", col.name, f"{c} NOT IN ({codes})", c))
        if col.max_length:
            checks.append(Check("too_long", col.name, f"length({c}) > {col.max_length}", c))
        if col.pattern:
            checks.append(Check("bad_format", col.name,
                                f"NOT regexp_full_match({c}, '{_s(col.pattern)}')", c))
        if col.name == standard.period_column:
            checks.append(Check("not_first_of_month", col.name, f"day({c}) <> 1",
                                f"CAST({c} AS VARCHAR)"))
    for start, end in standard.date_order:
        if start in present and end in present:
            checks.append(Check("date_order", end, f"{_q(end)} < {_q(start)}",
                                f"CAST({_q(start)} AS VARCHAR) || ' > ' || "
                                f"CAST({_q(end)} AS VARCHAR)"))
    return checks, problems, present


def list_problems(con: duckdb.DuckDBPyConnection, table: str, checks: list[Check],
                  standard: DatasetStandard) -> tuple[list[Problem], dict[str, dict[str, int]]]:
    """Counts every check's failures in one pass; lists the first MAX_LISTED by row.

    Call it only when `summarise` found failing rows. Raises duckdb.Error if the SQL
    fails (a bug, not a user problem).
    """
    if not checks:
        return [], {}
    counts_sql = ", ".join(f"count(*) FILTER (WHERE {c.condition})" for c in checks)
    found = con.execute(f"SELECT {counts_sql} FROM {table}").fetchone()
    counts: dict[str, dict[str, int]] = {}
    failing = []
    for check, n in zip(checks, found, strict=True):
        if n:
            counts.setdefault(check.kind, {})[check.column] = n
            failing.append(check)
    if not failing:
        return [], {}
    parts = [f"(SELECT rowid + 1 AS row, {i} AS check_no, CAST({c.value} AS VARCHAR) AS value "
             f"FROM {table} WHERE {c.condition} ORDER BY rowid LIMIT {MAX_LISTED})"
             for i, c in enumerate(failing)]
    rows = con.execute(" UNION ALL ".join(parts) +
                       f" ORDER BY row, check_no LIMIT {MAX_LISTED}").fetchall()
    return [_problem(row, failing[i], value, standard) for row, i, value in rows], counts


def _problem(row: int, check: Check, value: str | None, std: DatasetStandard) -> Problem:
    col = std.column(check.column)
    if col.local_only:
        value = None  # Direct identifiers stay out of reports that may be shared.
    elif value is not None and len(value) > 60:
        value = value[:57] + "..."
    shown = repr(value) if value is not None else "the value"
    message = {
        "unparsable": f"{shown} is not {_FORMAT_HINT.get(col.type, col.type)}",
        "null_required": "the value is empty but the column is required",
        "bad_code": f"{shown} is not one of the codes {', '.join((col.codes or ())[:12])}"
                    + (" ..." if col.codes and len(col.codes) > 12 else ""),
        "too_long": f"{shown} is longer than {col.max_length} characters",
        "bad_format": f"{shown} does not match the format {col.pattern}",
        "not_first_of_month": f"{shown} is not the first day of a month",
        "date_order": f"the end date is before the start date ({value})",
    }[check.kind]
    return Problem(int(row), check.column, check.kind, value, message)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _s(text: str) -> str:
    return text.replace("'", "''")
