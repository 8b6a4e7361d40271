"""Real processes for end-to-end tests: a coordinator and node daemons on loopback.

Every process is started with the test's own interpreter (`python -m fedaudit`), on
port 0, with real kits from a real provisioning, and is always stopped at teardown.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from certs import load_kit
from coordinator.client import PeopleClient
from fedaudit.local import FEDAUDIT, LocalProcess


def fedaudit(*args, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs one `fedaudit` command to completion."""
    result = subprocess.run(
        [*FEDAUDIT, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"fedaudit {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result


def start_process(*args, log_path: Path) -> LocalProcess:
    """A running `fedaudit` process that has printed its first JSON event."""
    process = LocalProcess([str(a) for a in args], log_path)
    process.started = process.first_event()
    return process


class Federation:
    """A provisioned federation with a coordinator home and node homes under root."""

    def __init__(self, root: Path, nodes: list[tuple[str, str, str]]) -> None:
        self.root = root
        lines = ['name = "e2e"', 'coordinator = "127.0.0.1:7443"']
        for node_id, level, region in nodes:
            lines += ["[[node]]", f'id = "{node_id}"', f'level = "{level}"', f'region = "{region}"']
        lines += [
            "[[issuer]]",
            'id = "hq-lead"',
            'roles = ["lead"]',
            "[[issuer]]",
            'id = "hq-approver"',
            'roles = ["approver"]',
            "[[office]]",
            'id = "office-south"',
        ]
        spec = root / "federation.toml"
        spec.write_text("\n".join(lines) + "\n")
        self.kits = root / "fed"
        fedaudit("certs", "provision", spec, "--out", self.kits)
        self.coordinator_home = root / "coordinator"
        fedaudit(
            "coordinator",
            "init",
            "--kit",
            self.kits / "coordinator",
            "--home",
            self.coordinator_home,
        )
        self.node_ids = [n for n, _, _ in nodes]
        for node_id in self.node_ids:
            fedaudit("node", "init", "--kit", self.kits / node_id, "--home", self.home(node_id))
        self.coordinator: LocalProcess | None = None
        self.nodes: dict[str, LocalProcess] = {}
        self.address: str | None = None

    def home(self, node_id: str) -> Path:
        return self.root / f"home-{node_id}"

    def kit(self, party_id: str) -> Path:
        return self.kits / party_id

    def start_coordinator(self, listen: str = "127.0.0.1:0") -> str:
        self.coordinator = start_process(
            "coordinator",
            "start",
            "--home",
            self.coordinator_home,
            "--listen",
            listen,
            log_path=self.root / "coordinator.log",
        )
        self.address = self.coordinator.started["address"]
        return self.address

    def start_node(self, node_id: str) -> LocalProcess:
        process = start_process(
            "node",
            "start",
            "--home",
            self.home(node_id),
            "--coordinator",
            self.address,
            log_path=self.root / f"node-{node_id}.log",
        )
        self.nodes[node_id] = process
        return process

    def client(self, party_id: str = "hq-lead") -> PeopleClient:
        return PeopleClient(load_kit(self.kit(party_id)), self.address)

    def wait_connected(self, node_ids, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                connected = {n.node_id for n in client.nodes() if n.connected}
                if set(node_ids) <= connected:
                    return
                time.sleep(0.2)
        raise AssertionError(f"nodes not connected: {set(node_ids) - connected}")

    def wait_final(self, task_id: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                status = client.get(task_id)
                if status.state != "running":
                    return status
                time.sleep(0.2)
        raise AssertionError(f"task {task_id} still running after {timeout}s")

    def stop(self) -> None:
        for process in self.nodes.values():
            process.stop()
        if self.coordinator:
            self.coordinator.stop()
