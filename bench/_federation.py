"""A provisioned federation of one real coordinator and many real node processes for benchmarks.

It follows `tests.e2e.harness.Federation` (real kits, mutual TLS on loopback, port 0,
`python -m fedaudit` processes) with two changes that matter when there are 16 nodes on
a 2-core machine: provisioning, home creation and ingest run in this process through the
library (no `fedaudit` subprocess per step), and the node processes are started all at
once and then awaited, and stopped all at once, instead of one after the other. The
processes are the demo launcher's `fedaudit.local.LocalProcess`.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from analyses import load_library
from analyses.tasks import SignedTask, add_signature, draft_task, parse_targets
from certs import load_kit, provision
from coordinator.client import PeopleClient
from fedaudit.local import LocalProcess
from proto import task_pb2

__all__ = ["PROVINCES", "BenchFederation", "Timing", "ingest_csv"]

FEDERATION = "bench"
ISSUER = "hq-lead"
#: Sixteen provinces (node id, region code): distinct regions give disjoint person IDs.
PROVINCES = [
    ("bj", "110000"), ("tj", "120000"), ("he", "130000"), ("sx", "140000"),
    ("nm", "150000"), ("ln", "210000"), ("jl", "220000"), ("hl", "230000"),
    ("sh", "310000"), ("js", "320000"), ("zj", "330000"), ("ah", "340000"),
    ("fj", "350000"), ("jx", "360000"), ("sd", "370000"), ("ha", "410000"),
]


#: Node states of a delivery that has not answered yet.
_OPEN = ("pending", "delivered")


@dataclass(frozen=True)
class Timing:
    """One task's run: its final status, how many nodes sent a receipt, and the seconds
    from submit until every node had answered and until the task was final (combined)."""

    status: object
    receipts: int
    to_receipts_s: float
    to_final_s: float


def _start(*args, log_path: Path) -> LocalProcess:
    return LocalProcess([str(a) for a in args], log_path)


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, or a note that it is missing."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def ingest_csv(home: Path, csv_path: Path) -> None:
    """Ingests a benefit_payment CSV as the node's new current snapshot (library call).

    Raises node.ingest.IngestRejected when the file does not meet the standard.
    """
    from node.home import NodeHome
    from node.ingest import ingest_file

    ingest_file(NodeHome.open(home).data_dir, "benefit_payment", csv_path)


class BenchFederation:
    """Kits, a coordinator home and one home per node under `root`; processes on demand.

    Use it as a context manager: leaving the block stops every process it started, also
    when the block raised.
    """

    def __init__(self, root: Path, nodes: list[tuple[str, str]]) -> None:
        from coordinator.home import init_home as init_coordinator
        from node.home import init_home as init_node

        self.root = root
        self.node_ids = [node_id for node_id, _ in nodes]
        lines = [f'name = "{FEDERATION}"', 'coordinator = "127.0.0.1:7443"']
        for node_id, region in nodes:
            lines += ["[[node]]", f'id = "{node_id}"', 'level = "province"',
                      f'region = "{region}"']
        lines += ["[[issuer]]", f'id = "{ISSUER}"', 'roles = ["lead"]']
        spec = root / "federation.toml"
        spec.write_text("\n".join(lines) + "\n")
        self.kits = root / "fed"
        provision(spec, self.kits)
        self.coordinator_home = root / "coordinator"
        init_coordinator(self.kits / "coordinator", self.coordinator_home)
        for node_id in self.node_ids:
            init_node(self.kits / node_id, self.home(node_id))
            # Sixteen nodes share this machine's cores: one DuckDB thread each, as an
            # operator would set it for many nodes on one host (limits.threads).
            policy = self.home(node_id) / "policy.toml"
            policy.write_text(policy.read_text().replace("\nthreads = 2\n", "\nthreads = 1\n"))
        self.issuer_kit = load_kit(self.kits / ISSUER)
        self.coordinator: LocalProcess | None = None
        self.nodes: dict[str, LocalProcess] = {}
        self.address: str | None = None

    def home(self, node_id: str) -> Path:
        return self.root / f"home-{node_id}"

    def __enter__(self) -> BenchFederation:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and self.coordinator is not None:
            # The temporary folder goes with the logs; show what the coordinator said.
            print(f"coordinator log (tail):\n{tail(self.coordinator.log_path)}",
                  file=sys.stderr)
        self.stop()

    def start(self, timeout: float = 90) -> None:
        """Starts the coordinator, then every node at once, and waits until all are
        connected. Raises RuntimeError (with the log's tail) when one does not come up."""
        self.coordinator = _start("coordinator", "start", "--home", self.coordinator_home,
                                    "--listen", "127.0.0.1:0",
                                    log_path=self.root / "coordinator.log")
        self.address = self.coordinator.first_event()["address"]
        for node_id in self.node_ids:
            self.nodes[node_id] = _start("node", "start", "--home", self.home(node_id),
                                           "--coordinator", self.address,
                                           log_path=self.root / f"node-{node_id}.log")
        for process in self.nodes.values():
            process.first_event()
        self._wait_connected(timeout)

    def _wait_connected(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        missing = set(self.node_ids)
        with self.client() as client:
            while time.monotonic() < deadline:
                missing = set(self.node_ids) - {n.node_id for n in client.nodes() if n.connected}
                if not missing:
                    return
                time.sleep(0.2)
        first = sorted(missing)[0]
        raise RuntimeError(f"nodes not connected after {timeout:.0f} s: {sorted(missing)}; "
                           f"log of {first}:\n{tail(self.root / f'node-{first}.log')}")

    def client(self) -> PeopleClient:
        """A people's client of the running coordinator, as the issuer."""
        return PeopleClient(self.issuer_kit, self.address, timeout=60)

    def signed_task(self, analysis: str = "fund.benefit_summary",
                    params: dict | None = None) -> SignedTask:
        """A fresh task for every node of the federation, signed by the issuer."""
        model = load_library().get(analysis)
        task = draft_task(
            federation=FEDERATION, analysis_id=model.id, analysis_version=model.version,
            analysis_digest=model.digest, output_kind=model.kind,
            parameters=model.bind_parameters(params or {}),
            targets=parse_targets(["level=province"]),
            purpose=task_pb2.Purpose(text="benchmark"), lifetime=dt.timedelta(minutes=10),
        )
        return add_signature(task, ISSUER, self.issuer_kit.signing_key())

    def run(self, client: PeopleClient, task: SignedTask) -> Timing:
        """Submits the task and follows it with `Watch` until it is final.

        Returns its Timing. Raises RuntimeError, with the coordinator log's tail, when
        the task does not end complete.
        """
        started = time.perf_counter()
        client.submit(task)
        status, receipts_at = None, None
        for status in client.watch(task.spec.task_id):
            if receipts_at is None and all(n.state not in _OPEN for n in status.nodes):
                receipts_at = time.perf_counter()
            if status.state != "running":
                break
        final_at = time.perf_counter()
        if status is None or status.state != "complete":
            nodes = {n.node_id: n.state for n in status.nodes} if status else {}
            raise RuntimeError(f"task ended {status.state if status else 'unknown'} with "
                               f"{nodes}; coordinator log:\n"
                               f"{tail(self.root / 'coordinator.log')}")
        done = sum(n.state == "done" for n in status.nodes)
        return Timing(status, done, (receipts_at or final_at) - started, final_at - started)

    def cpu_seconds(self) -> dict[str, float] | None:
        """CPU seconds (user + system) used so far by the node processes together and by
        the coordinator, read from /proc; None where /proc is not there (not Linux)."""
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

        def used(process: LocalProcess) -> float:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

        try:
            return {"nodes": sum(used(p) for p in self.nodes.values()),
                    "coordinator": used(self.coordinator) if self.coordinator else 0.0}
        except (OSError, IndexError, ValueError):
            return None

    def stop(self, timeout: float = 15) -> None:
        """Stops every node, then the coordinator: SIGTERM to all, SIGKILL after timeout."""
        deadline = time.monotonic() + timeout
        for process in self.nodes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.nodes.values():
            process.stop(deadline - time.monotonic())
        self.nodes.clear()
        if self.coordinator is not None:
            self.coordinator.send_signal(signal.SIGTERM)
            self.coordinator.stop(timeout)
            self.coordinator = None
