"""Who is calling: the party id and role from the caller's client certificate."""

from __future__ import annotations

import functools

import grpc

from coordinator.errors import CODE_METADATA_KEY, STATUS_OF_CODE, CoordinatorError


def caller(context: grpc.ServicerContext) -> tuple[str, str]:
    """(party id, role) of the TLS peer; aborts UNAUTHENTICATED without a certificate."""
    from certs import peer_identity

    pems = context.auth_context().get("x509_pem_cert") or []
    if not pems:
        abort(context, CoordinatorError("a client certificate is required", "UNAUTHENTICATED"))
    try:
        return peer_identity(pems[0])
    except Exception:
        abort(context, CoordinatorError("the client certificate names no fedaudit party",
                                        "UNAUTHENTICATED"))
        raise  # unreachable: abort raises


def abort(context: grpc.ServicerContext, error: CoordinatorError):
    """Ends the RPC with the error's gRPC status, its code in the trailing metadata."""
    context.set_trailing_metadata(((CODE_METADATA_KEY, error.code),))
    context.abort(STATUS_OF_CODE.get(error.code, grpc.StatusCode.INVALID_ARGUMENT), str(error))


def allowed(*roles: str):
    """Decorates a servicer method: only callers whose certificate role is in roles get
    in; the method receives the caller's party id. CoordinatorErrors become statuses."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, request, context):
            party_id, role = caller(context)
            if role not in roles:
                abort(context, CoordinatorError(
                    f"a {role} may not call {method.__name__}", "FORBIDDEN"))
            try:
                result = method(self, request, context, party_id)
                if hasattr(result, "__next__"):
                    return _guard_stream(result, context)
                return result
            except CoordinatorError as exc:
                abort(context, exc)

        return wrapper

    return decorate


def _guard_stream(stream, context):
    try:
        yield from stream
    except CoordinatorError as exc:
        abort(context, exc)
