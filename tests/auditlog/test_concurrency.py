"""Tests that separate processes appending to one log, or consuming one id, stay consistent."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from node.audit_log import AuditLog
from node.replay import ReplayStore

REPO_ROOT = Path(__file__).resolve().parents[2]
PER_PROCESS = 200

#: Each worker waits for the go file, so both start appending at the same moment.
APPEND_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from node.audit_log import AuditLog

    log_path, go, name, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    while not go.exists():
        time.sleep(0.005)
    audit = AuditLog(log_path)
    for n in range(count):
        audit.append("worker.tick", worker=name, n=n)
    """
)

CONSUME_WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from node.replay import ReplayStore, TaskReplayed

    db, go, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    store = ReplayStore(db)
    while not go.exists():
        time.sleep(0.005)
    won = []
    for n in range(count):
        try:
            store.consume(f"task-{n}", 2_000_000_000)
            won.append(n)
        except TaskReplayed:
            pass
    print(json.dumps(won))
    """
)


def _run_pair(tmp_path: Path, script: str, args: list[list[str]]) -> list[str]:
    """Runs the script in two processes released together; returns their stdouts."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *a[:1], str(go), *a[1:]],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for a in args
    ]
    try:
        time.sleep(0.2)  # Let both import before releasing them; correctness does not rely on it.
        go.touch()
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    return [out for out, _ in outputs]


@pytest.mark.slow
def test_two_processes_append_to_one_log(tmp_path: Path) -> None:
    log_path = tmp_path / "audit.log"
    _run_pair(
        tmp_path,
        APPEND_WORKER,
        [[str(log_path), name, str(PER_PROCESS)] for name in ("a", "b")],
    )
    audit = AuditLog(log_path)
    assert audit.verify() == 2 * PER_PROCESS
    entries = list(audit.entries())
    assert [e["seq"] for e in entries] == list(range(1, 2 * PER_PROCESS + 1))
    for name in ("a", "b"):
        mine = [e["n"] for e in entries if e["worker"] == name]
        assert mine == list(range(PER_PROCESS))
    head = json.loads(audit.head_path.read_text())
    assert head == {"seq": 2 * PER_PROCESS, "hash": entries[-1]["hash"]}


@pytest.mark.slow
def test_two_processes_consuming_the_same_ids_each_id_wins_once(tmp_path: Path) -> None:
    db = tmp_path / "replay.sqlite"
    outputs = _run_pair(tmp_path, CONSUME_WORKER, [[str(db), str(PER_PROCESS)]] * 2)
    won_a, won_b = (set(json.loads(out)) for out in outputs)
    assert won_a.isdisjoint(won_b)
    assert won_a | won_b == set(range(PER_PROCESS))
    with ReplayStore(db) as store:
        assert len(store) == PER_PROCESS


def test_threads_sharing_one_log_object(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log")

    def work(name: str) -> None:
        for n in range(50):
            audit.append("worker.tick", worker=name, n=n)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert audit.verify() == 200
    assert sorted(e["n"] for e in audit.entries() if e["worker"] == "w3") == list(range(50))
