"""The one place where protobuf messages meet the coordinator's domain records."""

from __future__ import annotations

from collections.abc import Iterator

from analyses.tasks import SignedTask
from coordinator.errors import CoordinatorError
from coordinator.service import Report
from proto import fedaudit_pb2 as pb

_STATUS_NAMES = {pb.DONE: "done", pb.REFUSED: "refused", pb.FAILED: "failed", pb.HELD: "held"}


def task_status(record) -> pb.TaskStatus:
    return pb.TaskStatus(
        task_id=record.task_id,
        analysis=f"{record.analysis_id}@{record.analysis_version}",
        state=record.state,
        submitted_unix=record.submitted_at,
        deadline_unix=record.deadline,
        nodes=[
            pb.NodeState(node_id=d.node_id, state=d.state, refusal_code=d.refusal_code or "",
                         message=d.message or "", rows=d.rows or 0,
                         updated_unix=d.updated_at or 0)
            for d in record.deliveries
        ],
    )


def catalog_to_dicts(summaries) -> list[dict]:
    return [
        {"dataset": s.dataset, "snapshot_id": s.snapshot_id, "rows": s.rows,
         "period_min": s.period_min, "period_max": s.period_max, "data_as_of": s.data_as_of}
        for s in summaries
    ]


def catalog_to_proto(entries: list[dict]) -> list[pb.DatasetSummary]:
    return [
        pb.DatasetSummary(**{k: (v if v is not None else ("" if k != "rows" else 0))
                             for k, v in e.items() if k in _SUMMARY_FIELDS})
        for e in entries or []
    ]


_SUMMARY_FIELDS = {"dataset", "snapshot_id", "rows", "period_min", "period_max", "data_as_of"}


def node_info(record, party) -> pb.NodeInfo:
    return pb.NodeInfo(
        node_id=record.node_id,
        level=party.level if party else "",
        region=party.region if party else "",
        connected=bool(record.connected),
        last_seen_unix=record.last_seen or 0,
        catalog=catalog_to_proto(record.catalog),
        library_digest=record.library_digest or "",
        software_version=record.software_version or "",
        policy_json=record.policy_json or "",
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def result_chunk_wire(*, provenance_json: bytes | None = None,
                      arrow_chunk: bytes | None = None) -> bytes:
    """The serialized ResultChunk holding one of its fields, made with one copy of the
    payload instead of protobuf's two (building the message, then serializing it): the
    bytes are what `pb.ResultChunk(...).SerializeToString()` makes. Raises ValueError
    unless exactly one field is given."""
    if (provenance_json is None) == (arrow_chunk is None):
        raise ValueError("a ResultChunk holds exactly one of provenance_json and arrow_chunk")
    tag, payload = ((b"\x0a", provenance_json) if provenance_json is not None
                    else (b"\x12", arrow_chunk))
    return b"".join((tag, _varint(len(payload)), payload))


def serialize_result_chunk(message) -> bytes:
    """FetchResult's response serializer: bytes from `result_chunk_wire` as they are, a
    pb.ResultChunk serialized."""
    return message if isinstance(message, bytes) else message.SerializeToString()


def signed_task(message) -> SignedTask:
    return SignedTask.from_proto(message)


class ReportReader:
    """Splits a Report request stream into its header, chunk stream and receipt."""

    def __init__(self, requests: Iterator[pb.ReportMessage]) -> None:
        self._requests = iter(requests)
        self.receipt: tuple[bytes, bytes] | None = None
        first = next(self._requests, None)
        if first is None or first.WhichOneof("body") != "header":
            raise CoordinatorError("a report starts with its header", "BAD_REPORT")
        header = first.header
        status = _STATUS_NAMES.get(header.status)
        if status is None:
            raise CoordinatorError("the report header has no valid status", "BAD_REPORT")
        self.report = Report(header.task_id, status, header.refusal_code, header.message)

    def chunks(self) -> Iterator[bytes]:
        for message in self._requests:
            kind = message.WhichOneof("body")
            if kind == "arrow_chunk":
                if self.receipt is not None:
                    raise CoordinatorError("output after the receipt", "BAD_REPORT")
                yield message.arrow_chunk
            elif kind == "receipt":
                self.receipt = (message.receipt.body, message.receipt.signature)
            else:
                raise CoordinatorError("a second header in one report", "BAD_REPORT")
