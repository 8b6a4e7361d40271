"""gRPC mutual-TLS credentials made from a party's kit."""

from __future__ import annotations

import grpc

from certs.errors import CertsError
from certs.kit import Kit

__all__ = ["channel_credentials", "server_credentials"]


def server_credentials(kit: Kit) -> grpc.ServerCredentials:
    """Server credentials that present the kit's certificate and REQUIRE a client
    certificate signed by the kit's federation CA.

    A client without such a certificate fails the handshake; its calls end with
    UNAVAILABLE. Raises CertsError if a kit file cannot be read.
    """
    ca, cert, key = _read(kit)
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                       require_client_auth=True)


def channel_credentials(kit: Kit) -> grpc.ChannelCredentials:
    """Channel credentials that trust only the kit's federation CA and present the
    kit's certificate as the client identity. Raises CertsError if a kit file cannot
    be read."""
    ca, cert, key = _read(kit)
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key,
                                        certificate_chain=cert)


def _read(kit: Kit) -> tuple[bytes, bytes, bytes]:
    """The CA certificate, TLS certificate and TLS key of the kit, as PEM bytes."""
    try:
        return kit.ca_cert.read_bytes(), kit.tls_cert.read_bytes(), kit.tls_key.read_bytes()
    except OSError as exc:
        raise CertsError(f"cannot read the TLS files of kit {kit.path}: {exc}; ask the "
                         "federation admin for a fresh copy of the kit") from exc
