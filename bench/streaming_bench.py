"""Benchmarks Arrow result streaming over our mutual-TLS gRPC against pyarrow.flight.

Both servers run in their own process, serve the same ~200 MB table (memory-mapped from
one Arrow IPC file) on loopback with mutual TLS using the same federation kits, and the
client in this process reads the whole table back:

- ours: a minimal gRPC server implementing the people's `FetchResult` RPC of our
  `.proto` (not the full coordinator: that would need a finished task with a 200 MB
  result), with the coordinator's server credentials (`certs.server_credentials`) and
  message limits. It streams `ResultChunk`s made by `node.arrow_stream.ipc_chunks` from
  the table in memory ("ipc") or by `coordinator.results.result_chunks` from the same
  table stored as Parquet ("parquet", which is what the coordinator's `FetchResult`
  really does). The client is the real `coordinator.client.PeopleClient.fetch_result`.
- baseline: a `pyarrow.flight.FlightServerBase` whose `do_get` returns the table as a
  `RecordBatchStream`, over grpc+tls with client certificates required; the client is
  `pyarrow.flight.FlightClient.do_get(...).read_all()`.

Each round fetches the whole table from each server in turn (interleaved, so machine
load hits all alike); the best of ROUNDS is reported. Target: ours >= 0.7 x Flight.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROWS = 2_000_000  # about 103 bytes a row in memory: about 200 MB
BATCH_ROWS = 32_768
ROUNDS = 3
_START_TIMEOUT = 60


def make_table(rows: int = ROWS) -> pa.Table:
    """A result-like table: a 64-character token, two dimensions and two measures."""
    con = duckdb.connect()
    table = con.sql(f"""
        SELECT md5(CAST(i AS VARCHAR)) || md5(CAST(i + 7 AS VARCHAR)) AS token,
               ['110', '120', '170'][i % 3 + 1] AS scheme_code,
               CAST(DATE '2024-01-01' + INTERVAL (i % 12) MONTH AS DATE) AS period,
               CAST(i % 1000 AS BIGINT) AS persons,
               CAST(i * 0.37 AS DECIMAL(38, 2)) AS amount
        FROM range({rows}) t(i) ORDER BY i""").to_arrow_table()
    con.close()
    return table


def write_inputs(table: pa.Table, folder: Path) -> tuple[Path, Path]:
    """Writes the table as an Arrow IPC file (what both servers map) and as Parquet."""
    arrow_path, parquet_path = folder / "table.arrow", folder / "result.parquet"
    with pa.OSFile(str(arrow_path), "wb") as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=BATCH_ROWS):
                writer.write_batch(batch)
    pq.write_table(table, parquet_path)
    return arrow_path, parquet_path


def _load(arrow_path: str) -> pa.Table:
    return pa.ipc.open_file(pa.memory_map(arrow_path)).read_all()


def _serve_ours(kit_dir: str, arrow_path: str, parquet_path: str, conn) -> None:
    """Child process: our FetchResult over mutual TLS until told to stop."""
    from concurrent import futures

    import grpc

    from certs import load_kit, server_credentials
    from coordinator.results import result_chunks
    from coordinator.serde import result_chunk_wire
    from coordinator.server import MAX_MESSAGE_BYTES, add_people_service
    from node.arrow_stream import ipc_chunks
    from proto import fedaudit_pb2_grpc as rpc

    table = _load(arrow_path)

    class Results(rpc.PeopleServiceServicer):
        def FetchResult(self, request, context):  # as coordinator.servicers.PeopleServicer
            yield result_chunk_wire(provenance_json=b"{}")
            if request.task_id == "parquet":
                chunks = result_chunks(parquet_path)
            else:
                chunks = ipc_chunks(table, table.schema, digest=False)
            for chunk in chunks:
                yield result_chunk_wire(arrow_chunk=chunk)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ])
    add_people_service(server, Results())
    port = server.add_secure_port("127.0.0.1:0", server_credentials(load_kit(kit_dir)))
    server.start()
    conn.send(port)
    try:
        conn.recv()  # any message, or the parent going away, means stop
    except EOFError:
        pass
    server.stop(0).wait()


def _serve_flight(kit_dir: str, arrow_path: str, conn) -> None:
    """Child process: a pyarrow.flight server with mutual TLS until told to stop."""
    import pyarrow.flight as flight

    from certs import load_kit

    kit = load_kit(kit_dir)
    table = _load(arrow_path)

    class Server(flight.FlightServerBase):
        def do_get(self, context, ticket):
            return flight.RecordBatchStream(table)

    server = Server("grpc+tls://127.0.0.1:0",
                    tls_certificates=[flight.CertKeyPair(cert=kit.tls_cert.read_bytes(),
                                                         key=kit.tls_key.read_bytes())],
                    verify_client=True, root_certificates=kit.ca_cert.read_bytes())
    conn.send(server.port)
    try:
        conn.recv()
    except EOFError:
        pass
    server.shutdown()


class _Server:
    """A server in a spawned child process; `port` once it listens, `stop()` to end it."""

    def __init__(self, target, *args) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(*args, child), daemon=True)
        self.process.start()
        child.close()
        if not self._conn.poll(_START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the {target.__name__} server did not start within "
                               f"{_START_TIMEOUT} s")
        self.port = self._conn.recv()

    def stop(self) -> None:
        try:
            self._conn.send("stop")
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self._conn.close()


def _provision(folder: Path) -> Path:
    from certs import provision

    spec = folder / "federation.toml"
    spec.write_text('name = "bench"\ncoordinator = "127.0.0.1:7443"\n'
                    '[[node]]\nid = "gd"\nlevel = "province"\nregion = "440000"\n'
                    '[[issuer]]\nid = "hq-lead"\nroles = ["lead"]\n')
    provision(spec, folder / "fed")
    return folder / "fed"


def bench_streaming(folder: Path, table: pa.Table) -> dict[str, float]:
    """Best-of-ROUNDS seconds to fetch the whole table from each server.

    Raises RuntimeError if a fetched table differs from the one served.
    """
    import pyarrow.flight as flight

    from certs import load_kit
    from coordinator.client import PeopleClient

    kits = _provision(folder)
    arrow_path, parquet_path = write_inputs(table, folder)
    issuer = load_kit(kits / "hq-lead")
    servers = []
    try:
        ours = _Server(_serve_ours, str(kits / "coordinator"), str(arrow_path),
                       str(parquet_path))
        servers.append(ours)
        baseline = _Server(_serve_flight, str(kits / "coordinator"), str(arrow_path))
        servers.append(baseline)
        people = PeopleClient(issuer, f"127.0.0.1:{ours.port}", timeout=600)
        flights = flight.FlightClient(f"grpc+tls://127.0.0.1:{baseline.port}",
                                      tls_root_certs=issuer.ca_cert.read_bytes(),
                                      cert_chain=issuer.tls_cert.read_bytes(),
                                      private_key=issuer.tls_key.read_bytes())
        fetchers = {
            "ours_ipc": lambda: people.fetch_result("ipc")[1],
            "ours_parquet": lambda: people.fetch_result("parquet")[1],
            "flight": lambda: flights.do_get(flight.Ticket(b"table")).read_all(),
        }
        best = dict.fromkeys(fetchers, float("inf"))
        for round_ in range(ROUNDS + 1):  # round 0 warms up both channels
            for name, fetch in fetchers.items():
                started = time.perf_counter()
                fetched = fetch()
                elapsed = time.perf_counter() - started
                if round_ == 0:
                    if not fetched.equals(table):
                        raise RuntimeError(f"{name} returned another table than the one served")
                    continue
                best[name] = min(best[name], elapsed)
                del fetched
        people.close()
        flights.close()
    finally:
        for server in servers:
            server.stop()
    return best


def main() -> dict[str, float]:
    """Runs the streaming benchmark, prints it, and returns the ratios by name."""
    table = make_table()
    mb = table.nbytes / 1e6
    with tempfile.TemporaryDirectory(prefix="fedaudit-bench-stream-") as tmp:
        best = bench_streaming(Path(tmp), table)
    rate = {name: mb / seconds for name, seconds in best.items()}
    print(f"streaming: {table.num_rows:,} rows x {table.num_columns} columns, {mb:,.0f} MB in "
          f"Arrow memory, best of {ROUNDS}; every server in its own process, loopback, "
          "mutual TLS with the federation's certificates on both sides")
    rows = [("ours: FetchResult, ipc_chunks from memory", "ours_ipc"),
            ("ours: FetchResult, result_chunks from Parquet", "ours_parquet"),
            ("pyarrow.flight do_get (baseline)", "flight")]
    for label, key in rows:
        line = f"  {label:<46}{rate[key]:>8,.0f} MB/s  ({best[key] * 1e3:,.0f} ms)"
        if key != "flight":
            line += f"  = {rate[key] / rate['flight']:.2f} x Flight"
        print(line)
    verdict = "met" if rate["ours_ipc"] >= 0.7 * rate["flight"] else "NOT met"
    print(f"  target: ours (same table from memory) >= 0.7 x Flight: {verdict}")
    return {"ipc_stream_vs_flight": rate["ours_ipc"] / rate["flight"],
            "parquet_result_stream_vs_flight": rate["ours_parquet"] / rate["flight"]}


if __name__ == "__main__":
    main()
