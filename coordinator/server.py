"""Runs the coordinator: the gRPC server with mutual TLS, health, and the combine loop."""

from __future__ import annotations

import json
import logging
import signal
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from coordinator.home import CoordinatorHome
from coordinator.service import Coordinator
from coordinator.servicers import NodeServicer, PeopleServicer
from proto import fedaudit_pb2_grpc as rpc

MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # Arrow chunks are at most 4 MiB
COMBINE_INTERVAL_SECONDS = 0.5


class CoordinatorServer:
    """The running coordinator; `start()` binds, `stop()` shuts down cleanly."""

    def __init__(self, home: CoordinatorHome, listen: str | None = None) -> None:
        from certs import server_credentials

        self.home = home
        self.coordinator = Coordinator(home)
        self._stop = threading.Event()
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="rpc"),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.keepalive_time_ms", 20_000),
                ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        rpc.add_NodeServiceServicer_to_server(NodeServicer(self.coordinator), self.server)
        add_people_service(self.server, PeopleServicer(self.coordinator))
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        address = listen or home.listen
        self.port = self.server.add_secure_port(address, server_credentials(home.kit))
        if self.port == 0:
            raise OSError(f"cannot listen on {address}")
        self.address = f"{address.rsplit(':', 1)[0]}:{self.port}"
        self._combiner = threading.Thread(target=self._combine_loop, name="combine", daemon=True)

    def start(self) -> None:
        self.server.start()
        self._combiner.start()
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        logging.getLogger("fedaudit.coordinator").info("listening", extra={"address": self.address})

    def stop(self, grace: float = 2.0) -> None:
        self._stop.set()
        self.coordinator.combine_due.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        self._combiner.join(timeout=5)
        self.coordinator.close()

    def _combine_loop(self) -> None:
        log = logging.getLogger("fedaudit.coordinator")
        due = self.coordinator.combine_due
        while not self._stop.is_set():
            due.wait(COMBINE_INTERVAL_SECONDS)
            due.clear()
            try:
                self.coordinator.combine_ready()
            except Exception:
                log.exception("combine loop error")


class _Handlers:
    """Stands in for a server to take the method handlers a generated add_* function makes."""

    def add_generic_rpc_handlers(self, handlers) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict) -> None:
        self.service, self.handlers = service, dict(handlers)


def add_people_service(server: grpc.Server, servicer: PeopleServicer) -> None:
    """Registers the people's service as the generated code does, except that FetchResult
    sends the bytes its servicer serialized itself (`serde.result_chunk_wire`)."""
    from coordinator.serde import serialize_result_chunk

    taken = _Handlers()
    rpc.add_PeopleServiceServicer_to_server(servicer, taken)
    fetch = taken.handlers["FetchResult"]
    taken.handlers["FetchResult"] = grpc.unary_stream_rpc_method_handler(
        fetch.unary_stream, request_deserializer=fetch.request_deserializer,
        response_serializer=serialize_result_chunk)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(taken.service, taken.handlers),))
    server.add_registered_method_handlers(taken.service, taken.handlers)


def serve(home: CoordinatorHome, listen: str | None = None) -> None:
    """Runs until SIGINT or SIGTERM. Prints the bound address as one JSON line on stdout."""
    server = CoordinatorServer(home, listen)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    server.start()
    print(json.dumps({"event": "listening", "address": server.address}), flush=True)
    stopped.wait()
    server.stop()
