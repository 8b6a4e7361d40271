"""Thin gRPC servicers: decode, one call into the Coordinator, encode."""

from __future__ import annotations

import json
import time

from coordinator import serde
from coordinator._sharing_serde import grant_info, request_info, result_info
from coordinator.auth import allowed
from coordinator.errors import CoordinatorError
from coordinator.service import Coordinator
from proto import fedaudit_pb2 as pb
from proto import fedaudit_pb2_grpc as rpc

VERSION = "0.1.0"


def _same_node(party_id: str, claimed: str) -> None:
    if claimed and claimed != party_id:
        raise CoordinatorError(f"the certificate is {party_id}'s, not {claimed}'s", "FORBIDDEN")


class NodeServicer(rpc.NodeServiceServicer):
    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator

    @allowed("node")
    def Hello(self, request, context, party_id):
        _same_node(party_id, request.node_id)
        self.coordinator.hello(party_id, serde.catalog_to_dicts(request.catalog),
                               request.library_digest, request.software_version,
                               request.policy_json)
        return pb.HelloReply(coordinator_version=VERSION, server_time_unix=int(time.time()))

    @allowed("node")
    def Subscribe(self, request, context, party_id):
        _same_node(party_id, request.node_id)
        for outgoing in self.coordinator.deliveries(party_id, context.is_active):
            delivery = pb.Delivery(key_envelope=outgoing.key_envelope,
                                   return_ready=outgoing.return_ready)
            if outgoing.signed_task:
                delivery.task.ParseFromString(outgoing.signed_task)
            yield delivery

    @allowed("node")
    def Report(self, request_iterator, context, party_id):
        reader = serde.ReportReader(request_iterator)
        chunks = reader.chunks()
        self.coordinator.report(party_id, reader.report, chunks, receipt=_LateReceipt(reader))
        return pb.ReportAck(stored=True)


    @allowed("node")
    def PublishKeys(self, request, context, party_id):
        self.coordinator.publish_keys(party_id, request.task_id, list(request.envelopes))
        return pb.ReportAck(stored=True)

    @allowed("node")
    def FetchReturn(self, request, context, party_id):
        header, chunks = self.coordinator.fetch_return(party_id, request.task_id)
        yield pb.ReturnChunk(header_json=json.dumps(header).encode())
        for chunk in chunks:
            yield pb.ReturnChunk(arrow_chunk=chunk)

    @allowed("node")
    def ReportVerification(self, request, context, party_id):
        self.coordinator.verification_report(party_id, request.task_id, request.json)
        return pb.ReportAck(stored=True)


class _LateReceipt:
    """The receipt arrives after the chunks; this reads it once they are consumed."""

    def __init__(self, reader) -> None:
        self._reader = reader

    def __getitem__(self, index):
        if self._reader.receipt is None:
            raise CoordinatorError("a DONE report must end with the node's receipt", "BAD_REPORT")
        return self._reader.receipt[index]


class PeopleServicer(rpc.PeopleServiceServicer):
    def __init__(self, coordinator: Coordinator) -> None:
        self.coordinator = coordinator

    @allowed("issuer")
    def Submit(self, request, context, party_id):
        record = self.coordinator.submit(serde.signed_task(request), party_id)
        return serde.task_status(record)

    @allowed("issuer")
    def GetTask(self, request, context, party_id):
        return serde.task_status(self.coordinator.status(request.task_id))

    @allowed("issuer")
    def Watch(self, request, context, party_id):
        for record in self.coordinator.watch(request.task_id, context.is_active):
            yield serde.task_status(record)

    @allowed("issuer")
    def ListTasks(self, request, context, party_id):
        return pb.TaskList(tasks=[serde.task_status(r) for r in self.coordinator.store.tasks()])

    @allowed("issuer")
    def ListNodes(self, request, context, party_id):
        roster = self.coordinator.roster
        return pb.NodeList(nodes=[serde.node_info(r, roster.party(r.node_id))
                                  for r in self.coordinator.nodes()])

    @allowed("issuer", "office")  # an office reads only what its grants allow
    def FetchResult(self, request, context, party_id):
        provenance, chunks = self.coordinator.sharing.read(party_id, request.task_id)
        # Serialized here (see server.add_people_service): one copy of each chunk, not two.
        yield serde.result_chunk_wire(provenance_json=provenance)
        for chunk in chunks:
            yield serde.result_chunk_wire(arrow_chunk=chunk)

    @allowed("issuer")
    def GetVerification(self, request, context, party_id):
        from coordinator.verification import verification_summary

        summary = verification_summary(self.coordinator.store, request.task_id)
        return pb.VerificationSummary(json=json.dumps(summary, ensure_ascii=False,
                                                      default=str).encode())

    @allowed("issuer")
    def ImportResult(self, request_iterator, context, party_id):
        requests = iter(request_iterator)
        first = next(requests, None)
        if first is None or first.WhichOneof("body") != "provenance_json":
            raise CoordinatorError("an import starts with the bundle header", "BAD_REPORT")
        chunks = (message.arrow_chunk for message in requests)
        record = self.coordinator.import_bundle(first.provenance_json, chunks, party_id)
        return serde.task_status(record)

    # -- sharing (coordinator.sharing_service; messages in coordinator._sharing_serde) ---

    @allowed("issuer")
    def ClassifyResult(self, request, context, party_id):
        return result_info(self.coordinator.sharing.classify(party_id, request.json))

    @allowed("issuer")
    def Share(self, request, context, party_id):
        return grant_info(self.coordinator.sharing.share(party_id, request.json))

    @allowed("issuer")
    def RevokeGrant(self, request, context, party_id):
        return grant_info(self.coordinator.sharing.revoke(party_id, request.grant_id,
                                                          request.reason))

    @allowed("issuer", "office")
    def ListGrants(self, request, context, party_id):
        grants = self.coordinator.sharing.grants(party_id, request.task_id)
        return pb.GrantList(grants=[grant_info(g) for g in grants])

    @allowed("issuer", "office")
    def ListResults(self, request, context, party_id):
        return pb.ResultList(results=[result_info(r)
                                      for r in self.coordinator.sharing.results(party_id)])

    @allowed("office")
    def RequestShare(self, request, context, party_id):
        return request_info(self.coordinator.sharing.request_share(
            party_id, task_id=request.task_id, for_office=request.for_office,
            purpose=request.purpose, parts=request.parts, regions=list(request.regions),
            duration_seconds=request.duration_seconds, note=request.note))

    @allowed("issuer", "office")
    def ListShareRequests(self, request, context, party_id):
        requests = self.coordinator.sharing.requests(party_id, request.task_id)
        return pb.ShareRequestList(requests=[request_info(r) for r in requests])

    @allowed("issuer")
    def DecideShareRequest(self, request, context, party_id):
        return request_info(self.coordinator.sharing.decide(
            party_id, request.request_id, request.approve, request.grant_json, request.reason))
