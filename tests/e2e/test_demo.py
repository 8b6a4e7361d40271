"""The demo's own path, end to end: synthetic world, real processes, every model."""

from __future__ import annotations

import json
import os
import signal

import pytest

from analyses import load_library
from tests.e2e.harness import fedaudit

pytestmark = pytest.mark.slow


def test_demo_runs_every_model_and_leaves_nothing_running(tmp_path):
    out = fedaudit("demo", "--provinces", "2", "--dir", tmp_path / "demo", "--json", timeout=300)
    summary = json.loads(out.stdout)
    ran = {task["analysis"]: task for task in summary["tasks"]}
    assert set(ran) == {model.id for model in load_library().models()}
    for task in ran.values():
        assert task["state"] == "complete", task
        assert task["rows"], f"{task['analysis']} returned no rows"
        if task["kind"] == "flags":  # the verification round closed every case
            national = task["verification"]["national"]
            assert national["status"] == "verified", (task["analysis"], national)
            assert national["open"] == 0 and national["resolved"] == national["cases"]
    # A second run into the same folder works without cleaning up by hand.
    again = fedaudit("demo", "--provinces", "1", "--dir", tmp_path / "demo", "--json",
                     timeout=300)
    assert json.loads(again.stdout)["tasks"]
    assert not (tmp_path / "demo" / "pids").exists()


def test_demo_keep_leaves_a_federation_to_use_by_hand(tmp_path):
    root = tmp_path / "kept"
    out = fedaudit("demo", "--provinces", "1", "--dir", root, "--keep", timeout=300)
    pids = [int(p) for p in (root / "pids").read_text().split()]
    try:
        assert "fedaudit task submit" in out.stdout
        address = json.loads((root / "demo.json").read_text()).get("address") or \
            out.stdout.split("coordinator at ")[1].split(")")[0]
        kit = root / "fed" / "hq-lead"
        task = tmp_path / "mine.json"
        fedaudit("task", "new", "fund.benefit_summary", "--target", "level=province",
                 "--purpose", "by hand", "--kit", kit, "--out", task)
        fedaudit("task", "sign", task, "--kit", kit)
        submitted = fedaudit("task", "submit", task, "--kit", kit, "--coordinator", address)
        task_id = submitted.stdout.split()[2]
        watched = fedaudit("task", "watch", task_id, "--kit", kit, "--coordinator", address)
        assert "complete" in watched.stdout
    finally:
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
