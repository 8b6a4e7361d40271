"""A real mutual-TLS handshake with grpcio, using kits from provisioned federations."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from certs import channel_credentials, load_kit, peer_identity, server_credentials

METHOD = "/fedaudit.test.Identity/WhoAmI"


def _who_am_i(request: bytes, context: grpc.ServicerContext) -> bytes:
    """Answers with the (party id, role) of the caller's verified certificate."""
    cert = context.auth_context()["x509_pem_cert"][0]
    party_id, role = peer_identity(cert)
    return f"{party_id}|{role}".encode()


@pytest.fixture
def coordinator_port(federation):
    """A gRPC server on 127.0.0.1:0 with the coordinator's credentials; yields its port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "fedaudit.test.Identity",
        {"WhoAmI": grpc.unary_unary_rpc_method_handler(_who_am_i)},
    ),))
    port = server.add_secure_port("127.0.0.1:0",
                                  server_credentials(load_kit(federation / "coordinator")))
    server.start()
    try:
        yield port
    finally:
        server.stop(grace=None)


def _call(port: int, credentials: grpc.ChannelCredentials) -> bytes:
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        return channel.unary_unary(METHOD)(b"", timeout=10)


def test_a_node_of_the_federation_is_identified(federation, coordinator_port):
    credentials = channel_credentials(load_kit(federation / "gd"))
    assert _call(coordinator_port, credentials).decode().split("|") == ["gd", "node"]


def test_an_issuer_is_identified_with_its_role(federation, coordinator_port):
    credentials = channel_credentials(load_kit(federation / "hq-lead"))
    assert _call(coordinator_port, credentials) == b"hq-lead|issuer"


def test_a_kit_of_another_federation_is_refused(other_federation, coordinator_port):
    credentials = channel_credentials(load_kit(other_federation / "gd"))
    with pytest.raises(grpc.RpcError) as caught:
        _call(coordinator_port, credentials)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_foreign_client_certificate_is_refused_even_trusting_our_ca(
        federation, other_federation, coordinator_port):
    """The client trusts our CA, so only the server's client-certificate check can refuse."""
    ours, theirs = load_kit(federation / "gd"), load_kit(other_federation / "gd")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ours.ca_cert.read_bytes(),
        private_key=theirs.tls_key.read_bytes(),
        certificate_chain=theirs.tls_cert.read_bytes(),
    )
    with pytest.raises(grpc.RpcError) as caught:
        _call(coordinator_port, credentials)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_without_certificate_is_refused(federation, coordinator_port):
    credentials = grpc.ssl_channel_credentials(
        root_certificates=load_kit(federation / "gd").ca_cert.read_bytes())
    with pytest.raises(grpc.RpcError) as caught:
        _call(coordinator_port, credentials)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
