"""The people's client of the coordinator: submit, watch, list and fetch over mTLS."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc

from analyses.tasks import SignedTask
from coordinator.errors import CODE_METADATA_KEY, CoordinatorError
from proto import fedaudit_pb2 as pb
from proto import fedaudit_pb2_grpc as rpc


class PeopleClient:
    def __init__(self, kit, address: str | None = None, timeout: float = 30.0) -> None:
        from certs import channel_credentials

        self.kit = kit
        self.address = address or kit.coordinator
        self.timeout = timeout
        self.channel = grpc.secure_channel(
            self.address, channel_credentials(kit),
            options=[("grpc.max_receive_message_length", 8 * 1024 * 1024)],
        )
        self.stub = rpc.PeopleServiceStub(self.channel)
        # FetchResult's chunks are read straight from the message bytes (see _result_chunk).
        self._fetch_result = self.channel.unary_stream(
            "/fedaudit.v1.PeopleService/FetchResult",
            request_serializer=pb.TaskRef.SerializeToString,
            response_deserializer=_result_chunk, _registered_method=True)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> PeopleClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(self, task: SignedTask) -> pb.TaskStatus:
        return self._call(self.stub.Submit, task.to_proto())

    def get(self, task_id: str) -> pb.TaskStatus:
        return self._call(self.stub.GetTask, pb.TaskRef(task_id=task_id))

    def tasks(self) -> list[pb.TaskStatus]:
        return list(self._call(self.stub.ListTasks, pb.ListTasksRequest()).tasks)

    def nodes(self) -> list[pb.NodeInfo]:
        return list(self._call(self.stub.ListNodes, pb.ListNodesRequest()).nodes)

    def watch(self, task_id: str) -> Iterator[pb.TaskStatus]:
        try:
            yield from self.stub.Watch(pb.TaskRef(task_id=task_id))
        except grpc.RpcError as exc:
            raise self._error(exc) from None

    def fetch_result(self, task_id: str):
        """(provenance dict, pyarrow.Table) of a finished task."""
        from node.arrow_stream import read_ipc

        try:
            stream = self._fetch_result(pb.TaskRef(task_id=task_id), timeout=600)
            field, first = next(stream)
            if field != "provenance_json":
                raise CoordinatorError("the result stream does not start with its provenance",
                                       "BAD_REPORT")
            provenance = json.loads(bytes(first))
            chunks = [chunk for _, chunk in stream]
        except grpc.RpcError as exc:
            raise self._error(exc) from None
        table = read_ipc(chunks) if chunks else None
        return provenance, table

    def import_result(self, provenance_json: bytes, chunks: Iterator[bytes]) -> pb.TaskStatus:
        def messages():
            yield pb.ResultChunk(provenance_json=provenance_json)
            for chunk in chunks:
                yield pb.ResultChunk(arrow_chunk=chunk)

        return self._call(self.stub.ImportResult, messages())

    def verification(self, task_id: str) -> dict:
        """The verification summary of a linkage task (see coordinator.verification).

        Raises CoordinatorError: NOT_FOUND for an unknown task, INVALID_REQUEST for a task
        whose model links no records, UNAVAILABLE when the coordinator cannot be reached.
        """
        summary = self._call(self.stub.GetVerification, pb.TaskRef(task_id=task_id))
        return json.loads(summary.json)

    # -- sharing (issue 9) ----------------------------------------------------------------

    def classify(self, document_json: bytes) -> pb.ResultInfo:
        """Sends a classification file signed by the result's owner."""
        return self._call(self.stub.ClassifyResult, pb.SignedDocument(json=document_json))

    def share(self, document_json: bytes) -> pb.GrantInfo:
        """Sends a grant file signed by the result's owner (and an approver if needed)."""
        return self._call(self.stub.Share, pb.SignedDocument(json=document_json))

    def revoke(self, grant_id: str, reason: str = "") -> pb.GrantInfo:
        return self._call(self.stub.RevokeGrant, pb.GrantRef(grant_id=grant_id, reason=reason))

    def grants(self, task_id: str) -> list[pb.GrantInfo]:
        return list(self._call(self.stub.ListGrants, pb.TaskRef(task_id=task_id)).grants)

    def results(self) -> list[pb.ResultInfo]:
        return list(self._call(self.stub.ListResults, pb.ListResultsRequest()).results)

    def request_share(self, **draft) -> pb.ShareRequestInfo:
        """Asks the owner to share a result with another office (fields of ShareRequestDraft)."""
        return self._call(self.stub.RequestShare, pb.ShareRequestDraft(**draft))

    def share_requests(self, task_id: str = "") -> list[pb.ShareRequestInfo]:
        return list(self._call(self.stub.ListShareRequests, pb.TaskRef(task_id=task_id)).requests)

    def decide(self, request_id: str, approve: bool, grant_json: bytes = b"",
               reason: str = "") -> pb.ShareRequestInfo:
        return self._call(self.stub.DecideShareRequest, pb.ShareDecision(
            request_id=request_id, approve=approve, grant_json=grant_json, reason=reason))

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._error(exc) from None

    def _error(self, exc: grpc.RpcError) -> CoordinatorError:
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return CoordinatorError(
                f"cannot reach the coordinator at {self.address} ({exc.details()}): is it "
                "running, and is this kit from its federation?", "UNAVAILABLE")
        code = dict(exc.trailing_metadata() or ()).get(CODE_METADATA_KEY, exc.code().name)
        return CoordinatorError(exc.details() or exc.code().name, code)


#: The wire tags of ResultChunk's two fields (field number << 3 | length-delimited).
_RESULT_FIELDS = {0x0A: "provenance_json", 0x12: "arrow_chunk"}


def _result_chunk(data: bytes) -> tuple[str, memoryview]:
    """(field name, payload) of one serialized ResultChunk.

    A message that is exactly one of its two bytes fields (what the coordinator sends) is
    read in place: its payload is a view of the received bytes, not a copy. Anything else
    is parsed by protobuf, which raises DecodeError for bytes that are not a ResultChunk.
    """
    tag = data[0] if data else None
    if tag in _RESULT_FIELDS:
        length, shift, index = 0, 0, 1
        while index < min(len(data), 11):
            byte = data[index]
            length |= (byte & 0x7F) << shift
            shift += 7
            index += 1
            if not byte & 0x80:
                if index + length == len(data):
                    return _RESULT_FIELDS[tag], memoryview(data)[index:]
                break
    message = pb.ResultChunk.FromString(data)
    field = message.WhichOneof("body") or "arrow_chunk"
    return field, memoryview(getattr(message, field))
