"""A whole federation on this machine: kits, homes, data, and real coordinator and node
processes on loopback with mutual TLS. The demo runs on it; so can tests and benchmarks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from analyses.tasks import SignedTask, add_signature, draft_task, parse_targets
from proto import task_pb2

FEDAUDIT = [sys.executable, "-m", "fedaudit"]
Progress = Callable[[str], None]


class LocalProcess:
    """A long-running `fedaudit` process in its own session; stderr goes to a log file."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen([*FEDAUDIT, *args], stdout=subprocess.PIPE,
                                         stderr=log, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def first_event(self, timeout: float = 60) -> dict:
        """The JSON line the process prints once it runs; raises RuntimeError if it died."""
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"a fedaudit process stopped at start; see {self.log_path}:\n"
                               + _tail(self.log_path))
        return json.loads(line)

    def send_signal(self, sig: int) -> None:
        """Sends sig to the process group if it still runs; does not wait."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """Stops the process at once (SIGKILL), as a crash would."""
        self.stop(sig=signal.SIGKILL)

    def stop(self, timeout: float = 15, sig: int = signal.SIGTERM) -> None:
        """Signals the process and waits for it, killing it after timeout seconds."""
        self.send_signal(sig)
        try:
            self.proc.wait(timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


class LocalFederation:
    """Provisioned from a federation spec under root: root/fed (kits), root/hq (the
    coordinator's home), root/homes/<node id> (node homes), root/logs."""

    def __init__(self, root: Path, progress: Progress = lambda _: None) -> None:
        self.root = root
        self.progress = progress
        self.kits = root / "fed"
        self.coordinator_home = root / "hq"
        self.logs = root / "logs"
        self.coordinator: LocalProcess | None = None
        self.nodes: dict[str, LocalProcess] = {}
        self.address: str | None = None

    def home(self, node_id: str) -> Path:
        return self.root / "homes" / node_id

    def kit(self, party_id: str):
        from certs import load_kit

        return load_kit(self.kits / party_id)

    def node_ids(self) -> list[str]:
        return [p.id for p in self.kit("coordinator").roster().nodes()]

    def provision(self, spec: Path) -> None:
        """Kits for every party, the coordinator's home and one home per node."""
        from certs import provision
        from coordinator.home import init_home as init_coordinator
        from node.home import init_home as init_node

        provision(spec, self.kits)
        init_coordinator(self.kits / "coordinator", self.coordinator_home)
        for node_id in self.node_ids():
            init_node(self.kits / node_id, self.home(node_id))
        self.progress(f"provisioned {len(self.node_ids())} nodes, the coordinator and issuers")

    def ingest(self, node_id: str, files: list[Path]) -> int:
        """Ingests every file (named after its dataset) into the node's home."""
        from node.home import NodeHome
        from node.ingest import ingest_file

        data_dir = NodeHome.open(self.home(node_id)).data_dir
        rows = 0
        for path in sorted(files):
            report = ingest_file(data_dir, path.stem, path)
            rows += report.rows
        return rows

    def start(self, timeout: float = 90) -> None:
        """Starts the coordinator, then every node at once; waits until all connected."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self.coordinator = LocalProcess(
            ["coordinator", "start", "--home", str(self.coordinator_home),
             "--listen", "127.0.0.1:0"], self.logs / "coordinator.log")
        self.address = self.coordinator.first_event()["address"]
        self.progress(f"coordinator listening on {self.address} (mutual TLS)")
        for node_id in self.node_ids():
            self.nodes[node_id] = LocalProcess(
                ["node", "start", "--home", str(self.home(node_id)), "--coordinator",
                 self.address], self.logs / f"node-{node_id}.log")
        for process in self.nodes.values():
            process.first_event()
        self.wait_connected(timeout)

    def wait_connected(self, timeout: float) -> None:
        wanted = set(self.nodes)
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                connected = {n.node_id for n in client.nodes() if n.connected}
                if wanted <= connected:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nodes did not connect: {sorted(wanted - connected)}; "
                                       f"see the logs in {self.logs}")
                time.sleep(0.2)
        self.progress(f"{len(wanted)} nodes connected (each dialled out; none opens a port)")

    def client(self, party_id: str = "hq-lead"):
        from coordinator.client import PeopleClient

        return PeopleClient(self.kit(party_id), self.address)

    def signed_task(self, model, parameters: dict | None = None, purpose: str = "demo",
                    lifetime: dt.timedelta = dt.timedelta(hours=2)) -> SignedTask:
        """A task for every node level the model runs at, signed as the default node
        policy demands (a lead; and an approver for tokens or flags)."""
        targets, originator = model_targets(model, self.kit("hq-lead").roster())
        task = draft_task(
            federation=self.kit("hq-lead").federation, analysis_id=model.id,
            analysis_version=model.version, analysis_digest=model.digest,
            output_kind=model.kind, parameters=model.bind_parameters(parameters or {}),
            targets=parse_targets(targets),
            purpose=task_pb2.Purpose(project="DEMO", text=purpose), lifetime=lifetime,
            key_originator=originator,
        )
        signers = ["hq-lead"] + (["hq-approver"] if model.kind != "aggregate" else [])
        for signer in signers:
            kit = self.kit(signer)
            task = add_signature(task, kit.party_id, kit.signing_key())
        return task

    def wait_reported(self, task_id: str, timeout: float,
                      ready: Callable[[dict], bool] = lambda n: n["status"] != "not_reported"
                      ) -> dict:
        """The task's verification summary once every node in it is `ready` (by default:
        it reported on its return, so its cases are open or its answer is kept). Raises
        TimeoutError naming the nodes still waiting after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                summary = client.verification(task_id)
                nodes = summary.get("nodes") or []
                if nodes and all(ready(n) for n in nodes):
                    return summary
                if time.monotonic() > deadline:
                    waiting = [n["node_id"] for n in nodes if not ready(n)]
                    raise TimeoutError(f"task {task_id[:8]}: no verification report within "
                                       f"{timeout:.0f} s from {', '.join(waiting) or 'any node'}"
                                       f"; see the node logs in {self.logs}")
                time.sleep(0.3)

    def pids(self) -> list[int]:
        processes = [*self.nodes.values(), *([self.coordinator] if self.coordinator else [])]
        return [p.pid for p in processes if p.proc.poll() is None]

    def stop(self) -> None:
        for process in self.nodes.values():  # all at once, then wait for each
            process.send_signal(signal.SIGTERM)
        for process in self.nodes.values():
            process.stop()
        if self.coordinator:
            self.coordinator.stop()
        self.nodes.clear()
        self.coordinator = None


def model_targets(model, roster) -> tuple[list[str], str]:
    """The targets that run `model` nationwide, and the key originator of a linkage model.

    Every node of each level the model runs at (``level=province``); for a linkage model,
    of the registry level only the nodes that hold all of the model's registry datasets
    (any of them, for a model with ``registry_datasets = "any"``), by id. A linkage
    model's key originator is its first registry target, else the first node of a level
    it runs at.
    """
    if model.linkage is None:
        return [f"level={level}" for level in model.levels], ""
    targets: list[str] = []
    registries: list[str] = []
    for level in model.levels:
        if level != "registry":
            targets.append(f"level={level}")
            continue
        needed = set(model.datasets[level])
        any_of = model.linkage.registry_datasets == "any"
        registries = [n.id for n in roster.nodes() if n.level == "registry" and (
            needed & set(n.datasets) if any_of else needed <= set(n.datasets))]
        targets += registries
    if registries:
        return targets, registries[0]
    first = next(n.id for n in roster.nodes() if n.level in model.levels)
    return targets, first


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
