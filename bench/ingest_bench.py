"""Benchmarks ingest against DuckDB's own CSV read, and ID validation against a plain check.

All ratios are measured in the same run on the same machine. The ingest target (at
least 0.5x) is against the like-for-like read: DuckDB's `read_csv` with the standard's
column types into a table in a database file, i.e. the same table without validation,
ID normalisation, content hash or catalog. Two cheaper reads are printed too: with
auto-detected types (which turns codes such as `0101` into the integer 101, so it
builds a different table) into a file, and into memory.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import duckdb

from analyses.datasets import load_standard
from node.idno import sql_normalise_query
from node.ingest import ingest_file

ROWS = 500_000
IDS = 1_000_000
REPEAT = 3
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# A handful of real county-level area codes, so the IDs look like real ones.
_AREAS = ("110105", "310104", "440106", "510107", "420102", "650102", "370202", "330106")


def id_sql(seed_expr: str) -> str:
    """SQL for a valid 18-character ID derived from an integer expression.

    The check character is computed here with the standard's formula on substrings,
    independently of node.idno, so the benchmark data does not trust the code it times.
    """
    areas = ", ".join(f"'{a}'" for a in _AREAS)
    first17 = (f"([{areas}][({seed_expr}) % {len(_AREAS)} + 1] || "
               f"strftime(DATE '1940-01-01' + CAST(({seed_expr}) * 7919 % 23000 AS INTEGER), "
               f"'%Y%m%d') || lpad(CAST(({seed_expr}) % 1000 AS VARCHAR), 3, '0'))")
    total = " + ".join(f"CAST(substr(f, {i + 1}, 1) AS INTEGER) * {w}"
                       for i, w in enumerate(_WEIGHTS))
    return (f"(SELECT f || substr('10X98765432', ({total}) % 11 + 1, 1) "
            f"FROM (SELECT {first17} AS f))")


def write_benefit_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Writes rows synthetic, valid benefit_payment rows as a UTF-8 CSV (via DuckDB)."""
    con = duckdb.connect()
    n = f"(i + {seed})"
    con.execute(f"""
        COPY (
          SELECT 'P' || lpad(CAST(i AS VARCHAR), 10, '0') AS pay_id,
                 {id_sql(f'{n} // 12')} AS id_no,
                 'PSN' || CAST({n} // 12 AS VARCHAR) AS psn_no,
                 ['110', '120', '170'][{n} % 3 + 1] AS scheme_code,
                 ['0101', '0101', '0102'][{n} % 3 + 1] AS benefit_item,
                 CAST(DATE '2023-01-01' + INTERVAL ({n} % 12) MONTH AS DATE) AS period,
                 CAST(DATE '2023-01-15' + INTERVAL ({n} % 12) MONTH AS DATE) AS pay_date,
                 CAST(1000 + ({n} * 37 % 500000) / 100.0 AS DECIMAL(14,2)) AS amount,
                 ['110105', '310104', '440106'][{n} % 3 + 1] AS pool_admdvs,
                 '1' AS pay_status,
                 md5(CAST({n} // 12 AS VARCHAR)) AS bank_acct_hash,
                 DATE '2024-01-31' AS data_as_of,
                 'bench' AS src_system,
                 'B1' AS load_batch_id
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()


def best_of(fns: dict, repeat: int = REPEAT) -> dict[str, float]:
    """The best wall-clock time of each function, in seconds, by name.

    The runs are interleaved (each round runs every function once) so that load from
    other processes on the machine affects all of them alike.
    """
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def bench_ingest(folder: Path) -> dict[str, float]:
    """Times DuckDB's plain read_csv into a table against the full ingest."""
    csv = folder / "benefit_payment.csv"
    write_benefit_csv(csv, ROWS)
    standard = load_standard("benefit_payment")
    types = ", ".join(f"'{c.name}': '{c.type}'" for c in standard.columns)
    counter = iter(range(1000))

    def plain_read(options: str, on_disk: bool) -> None:
        target = str(folder / f"plain{next(counter)}.duckdb") if on_disk else ":memory:"
        con = duckdb.connect(target)
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}'{options})")
        con.close()

    def ingest() -> None:
        ingest_file(folder / f"data{next(counter)}", "benefit_payment", csv)

    times = best_of({
        "typed_file_s": lambda: plain_read(f", header = true, types = {{{types}}}", True),
        "auto_file_s": lambda: plain_read("", True),
        "auto_memory_s": lambda: plain_read("", False),
        "ingest_s": ingest,
    })
    return {"rows": ROWS, "mb": csv.stat().st_size / 1e6, **times}


def bench_ids() -> dict[str, float]:
    """Times the full GB 11643 validation against a length-and-pattern check."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE ids AS SELECT {id_sql('i')} AS id_no FROM range({IDS}) t(i)")
    query = sql_normalise_query("ids", "id_no")
    statuses = {}

    def plain() -> None:
        con.execute("SELECT count(*) FILTER (WHERE length(id_no) = 18 AND "
                    "regexp_full_match(id_no, '[0-9]{17}[0-9X]')) FROM ids").fetchall()

    def ours() -> None:
        statuses.update(con.execute(f"SELECT id_status, count(*) FROM ({query}) "
                                    f"GROUP BY id_status").fetchall())

    times = best_of({"plain": plain, "ours": ours})
    plain, full = times["plain"], times["ours"]
    con.close()
    if statuses != {"valid": IDS}:
        raise AssertionError(f"benchmark IDs should all be valid, got {statuses}")
    return {"ids": IDS, "plain_check_s": plain, "validate_s": full,
            "ids_per_s": IDS / full, "ratio": plain / full}


def main() -> dict[str, float]:
    """Runs both benchmarks, prints them, and returns the ratios by name."""
    with tempfile.TemporaryDirectory(prefix="fedaudit-bench-") as tmp:
        ing = bench_ingest(Path(tmp))
    ids = bench_ids()
    rows = ing["rows"]
    print(f"ingest: {rows:,} benefit_payment rows (CSV, {ing['mb']:,.0f} MB), "
          f"best of {REPEAT}")
    print(f"  {'fedaudit ingest (all checks)':<32}{rows / ing['ingest_s']:>12,.0f} rows/s")
    for label, key in [("read_csv, standard types, file", "typed_file_s"),
                       ("read_csv, auto types, file", "auto_file_s"),
                       ("read_csv, auto types, memory", "auto_memory_s")]:
        print(f"  {label:<32}{rows / ing[key]:>12,.0f} rows/s  "
              f"ingest = {ing[key] / ing['ingest_s']:.2f}x")
    print("  target: ingest >= 0.5x of read_csv with the standard types into a file")
    print(f"ID validation: {ids['ids']:,} IDs, best of {REPEAT}")
    print(f"  GB 11643 validation (vectorised) {ids['ids_per_s']:>12,.0f} IDs/s")
    print(f"  length + regexp check only       {ids['ids'] / ids['plain_check_s']:>12,.0f} "
          f"IDs/s  validation = {ids['ratio']:.2f}x")
    return {"ingest_vs_read_csv_typed_file": ing["typed_file_s"] / ing["ingest_s"],
            "ingest_vs_read_csv_auto_file": ing["auto_file_s"] / ing["ingest_s"],
            "ingest_vs_read_csv_auto_memory": ing["auto_memory_s"] / ing["ingest_s"],
            "id_validation_vs_plain_check": ids["ratio"]}


if __name__ == "__main__":
    main()
