"""Crash safety: an ingest killed (SIGKILL) at any moment leaves a consistent catalog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from bench.ingest_bench import write_benefit_csv
from node.catalog import Catalog
from node.ingest import ingest_file
from tests.data._samples import BENEFIT_HEADER, benefit_rows, write_csv

REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""\
    import sys
    from node.ingest import ingest_file
    def say(message):
        print(message, file=sys.stderr, flush=True)
    ingest_file(sys.argv[1], "benefit_payment", sys.argv[2], progress=say)
    say("FINISHED")
""")

# Where to kill: after the first progress line containing the text, plus a delay (s).
KILL_POINTS = [
    ("loading", 0.0), ("loading", 0.15), ("checking", 0.0), ("writing", 0.0),
    ("writing", 0.1), ("writing", 0.25), ("recording", 0.0), ("recording", 0.002),
]


def kill_ingest_at(data_dir: Path, csv: Path, marker: str, delay: float, env: dict) -> str:
    """Runs an ingest in a child process and SIGKILLs it at marker + delay."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir), str(csv)],
                             cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        for line in child.stderr:
            seen.append(line.strip())
            if marker in line or "FINISHED" in line:
                break
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=60)
        child.stderr.close()
    return "\n".join(seen)


def assert_consistent(data_dir: Path, allowed_current: set[str]) -> str:
    """The catalog loads, names only complete snapshots, and is the old or the new one."""
    catalog = Catalog.load(data_dir)
    for record in catalog.snapshots():
        path = catalog.path_of(record)
        assert path.is_file(), f"the catalog names {record.path}, which does not exist"
        con = duckdb.connect(str(path), read_only=True)
        try:
            rows = con.execute(f"SELECT count(*) FROM {record.dataset}").fetchone()[0]
        finally:
            con.close()
        assert rows == record.rows
    current = catalog.current("benefit_payment")
    assert current is not None and current.snapshot_id in allowed_current
    return current.snapshot_id


@pytest.mark.slow
def test_ingest_killed_at_any_moment_leaves_a_consistent_catalog(tmp_path: Path,
                                                                 monkeypatch):
    private_tmp = tmp_path / "private-tmp"
    private_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(private_tmp), "PYTHONPATH": str(REPO)}
    data_dir = tmp_path / "data"
    old = ingest_file(data_dir, "benefit_payment",
                      write_csv(tmp_path / "old.csv", BENEFIT_HEADER, benefit_rows(50)))
    big = tmp_path / "big.csv"
    write_benefit_csv(big, 300_000, seed=7)
    outcomes = []
    for marker, delay in KILL_POINTS:
        log = kill_ingest_at(data_dir, big, marker, delay, env)
        assert marker in log, log  # The kill happened where intended, not after the end.
        current = assert_consistent(data_dir, {old.snapshot_id} | set(
            r.snapshot_id for r in Catalog.load(data_dir).snapshots()))
        outcomes.append(current)
    # Every catalog seen was the old one or the one the big file produces.
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    new = ingest_file(data_dir, "benefit_payment", big)
    assert set(outcomes) <= {old.snapshot_id, new.snapshot_id}
    assert assert_consistent(data_dir, {new.snapshot_id}) == new.snapshot_id
    assert [r.snapshot_id for r in Catalog.load(data_dir).snapshots()] == \
        [old.snapshot_id, new.snapshot_id]
    # The re-ingest removed what the killed runs left behind, in the data directory and in
    # their private temporary folders.
    assert not [p for p in data_dir.rglob("*") if ".tmp" in p.name]
    assert not list(private_tmp.iterdir())
