"""Benchmarks linkage: HMAC tokens in DuckDB against sha256, the blind join against a plain join.

1. Tokens: 1M valid ID numbers in a DuckDB table; `node.tokens.token_expression` (HMAC
   composed from DuckDB's `sha256`, key bound as parameters) against DuckDB's own unkeyed
   `sha256` over the same IDs, interleaved, best of ROUNDS. Target: >= 0.25x the
   throughput (HMAC needs four SHA-256 compressions per short ID against one here).
2. Blind join: NODES partials of TOKENS_PER_NODE 64-hex tokens each (Arrow IPC files as
   the coordinator stores them), about 1% of each node's tokens shared with one other
   node. `coordinator.linkage.blind_join` (cross_node: per-node return files, summary,
   memory limit) against a plain DuckDB query over the same memory-mapped files that
   lists every (node, token) held by two or more nodes, with DuckDB's default settings.
   Target: the blind join takes <= 1.5x the plain join's time.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa

from coordinator.linkage import CROSS_NODE, blind_join
from coordinator.results import read_partial
from node.tokens import token_expression, token_of, token_params

IDS = 1_000_000
NODES = 32
TOKENS_PER_NODE = 1_000_000
SHARED_FRACTION = 0.01
ROUNDS = 5
JOIN_ROUNDS = 2
#: Below this much free memory the join is scaled down (partials, page cache and DuckDB's
#: hash tables of 32M tokens need a few GB).
_MEMORY_NEEDED = 8 * 1024**3
_KEY = bytes(range(32))


def _id_table(con: duckdb.DuckDBPyConnection, count: int) -> None:
    """A table `ids` of valid 18-character ID numbers (MOD 11-2 check character included)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = " + ".join(f"CAST(substr(f, {i + 1}, 1) AS INTEGER) * {w}"
                       for i, w in enumerate(weights))
    con.execute(f"""
        CREATE OR REPLACE TABLE ids AS
        SELECT f || substr('10X98765432', ({total}) % 11 + 1, 1) AS id_no FROM (
            SELECT lpad(CAST(110000 + i % 550000 AS VARCHAR), 6, '0')
                   || strftime(DATE '1940-01-01' + CAST(i % 25000 AS INTEGER), '%Y%m%d')
                   || lpad(CAST(i % 997 AS VARCHAR), 3, '0') AS f
            FROM range({count}) t(i))""")


def bench_tokens(count: int = IDS) -> dict[str, float]:
    """Tokens per second through token_expression against sha256, in the same run."""
    con = duckdb.connect()
    _id_table(con, count)
    params = token_params(_KEY)
    sample = con.execute(f"SELECT id_no, {token_expression('id_no')} FROM ids LIMIT 100",
                         params).fetchall()
    assert all(token == token_of(_KEY, id18) for id18, token in sample), "token mismatch"
    queries = {"hmac": (f"SELECT max({token_expression('id_no')}) FROM ids", params),
               "sha256": ("SELECT max(sha256(id_no)) FROM ids", None)}
    best = dict.fromkeys(queries, float("inf"))
    for _ in range(ROUNDS):
        for name, (sql, bound) in queries.items():
            started = time.perf_counter()
            con.execute(sql, bound).fetchall()
            best[name] = min(best[name], time.perf_counter() - started)
    con.close()
    return {"ids": count, "hmac_s": best["hmac"], "sha256_s": best["sha256"]}


def _write_partials(folder: Path, nodes: int, per_node: int) -> dict[str, Path]:
    """NODES partials of 64-hex tokens; shared tokens come in pairs of nodes."""
    shared = int(per_node * SHARED_FRACTION)
    pool = max(nodes * shared // 2, 1)
    con = duckdb.connect()
    paths = {}
    for k in range(nodes):
        table = con.sql(f"""
            SELECT sha256(CAST(x AS VARCHAR)) AS token FROM (
                SELECT CASE WHEN i < {shared}
                            THEN 1000000000000 + (({k} * {shared} + i) * 7919) % {pool}
                            ELSE {k} * {per_node} + i END AS x
                FROM range({per_node}) t(i))""").to_arrow_table()
        path = folder / f"node-{k:02d}.arrows"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as out:
            out.write_table(table)
        paths[f"node-{k:02d}"] = path
    con.close()
    return paths


def _plain_join(paths: dict[str, Path]) -> int:
    """The baseline: every (node, token) held by two or more nodes, in plain DuckDB."""
    con = duckdb.connect()
    parts = []
    for index, path in enumerate(paths.values()):
        con.register(f"p{index}", read_partial(path))
        parts.append(f"SELECT {index} AS node, token FROM p{index}")
    con.execute("CREATE TEMP VIEW u AS " + " UNION ALL ".join(parts))
    rows = con.sql("SELECT node, token FROM u WHERE token IN "
                   "(SELECT token FROM u GROUP BY token HAVING count(*) > 1)"
                   ).to_arrow_table().num_rows
    con.close()
    return rows


def bench_join(folder: Path) -> dict[str, float]:
    """Blind join against the plain join of the same partials, interleaved, best of rounds."""
    nodes, per_node = NODES, TOKENS_PER_NODE
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if available < _MEMORY_NEEDED:
        per_node = max(TOKENS_PER_NODE * available // _MEMORY_NEEDED // 100_000 * 100_000,
                       100_000)
        print(f"  note: only {available / 1024**3:.1f} GB free; scaled down to {nodes} x "
              f"{per_node:,} tokens")
    started = time.perf_counter()
    paths = _write_partials(folder, nodes, per_node)
    made_s = time.perf_counter() - started
    levels = dict.fromkeys(paths, "province")
    best = {"ours": float("inf"), "plain": float("inf")}
    matched = plain_rows = 0
    for round_no in range(JOIN_ROUNDS):
        started = time.perf_counter()
        result = blind_join(CROSS_NODE, paths, levels, folder / f"returns-{round_no}")
        best["ours"] = min(best["ours"], time.perf_counter() - started)
        matched = sum(result.summary.column("matched").to_pylist())
        started = time.perf_counter()
        plain_rows = _plain_join(paths)
        best["plain"] = min(best["plain"], time.perf_counter() - started)
    assert matched == plain_rows, f"blind join matched {matched}, plain join {plain_rows}"
    return {"nodes": nodes, "per_node": per_node, "matched": matched, "made_s": made_s,
            "ours_s": best["ours"], "plain_s": best["plain"]}


def main() -> dict[str, float]:
    """Runs both benchmarks, prints them, and returns the ratios by name (higher is better)."""
    tok = bench_tokens()
    hmac_rate, sha_rate = tok["ids"] / tok["hmac_s"], tok["ids"] / tok["sha256_s"]
    print(f"tokens: {tok['ids']:,} IDs, best of {ROUNDS}")
    print(f"  HMAC-SHA256 token in DuckDB SQL   {hmac_rate:>12,.0f} tokens/s")
    print(f"  DuckDB sha256 (unkeyed)           {sha_rate:>12,.0f} hashes/s  "
          f"tokens = {hmac_rate / sha_rate:.2f}x")
    print("  target: >= 0.25x")
    with tempfile.TemporaryDirectory(prefix="fedaudit-bench-linkage-") as tmp:
        join = bench_join(Path(tmp))
    total = join["nodes"] * join["per_node"]
    print(f"blind join: {join['nodes']} nodes x {join['per_node']:,} tokens "
          f"({total:,} in all, {join['matched']:,} matched node tokens; partials written in "
          f"{join['made_s']:.1f} s), best of {JOIN_ROUNDS}")
    print(f"  coordinator.linkage.blind_join    {join['ours_s']:>8.2f} s")
    print(f"  plain DuckDB join                 {join['plain_s']:>8.2f} s  "
          f"blind join = {join['ours_s'] / join['plain_s']:.2f}x the time")
    print("  target: <= 1.5x the time")
    return {"tokens_vs_sha256": hmac_rate / sha_rate,
            "blind_join_vs_plain_join": join["plain_s"] / join["ours_s"]}


if __name__ == "__main__":
    main()
