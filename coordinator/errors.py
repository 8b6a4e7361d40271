"""Errors of the coordinator, and the one table mapping their codes to gRPC statuses."""

from __future__ import annotations

import grpc


class CoordinatorError(Exception):
    """A problem the caller can fix; `code` is stable, the message says what to do."""

    code = "INVALID_REQUEST"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


#: Stable error code -> gRPC status. Clients read the code from the trailing metadata
#: key `fedaudit-code`, never from the message text.
STATUS_OF_CODE = {
    "INVALID_REQUEST": grpc.StatusCode.INVALID_ARGUMENT,
    "BAD_SIGNATURE": grpc.StatusCode.INVALID_ARGUMENT,
    "UNKNOWN_ISSUER": grpc.StatusCode.PERMISSION_DENIED,
    "UNKNOWN_ANALYSIS": grpc.StatusCode.FAILED_PRECONDITION,
    "DIGEST_MISMATCH": grpc.StatusCode.FAILED_PRECONDITION,
    "UNKNOWN_NODE": grpc.StatusCode.INVALID_ARGUMENT,
    "EXPIRED": grpc.StatusCode.FAILED_PRECONDITION,
    "DUPLICATE_TASK": grpc.StatusCode.ALREADY_EXISTS,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "NOT_READY": grpc.StatusCode.FAILED_PRECONDITION,
    "FORBIDDEN": grpc.StatusCode.PERMISSION_DENIED,
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "BAD_REPORT": grpc.StatusCode.INVALID_ARGUMENT,
}

CODE_METADATA_KEY = "fedaudit-code"
