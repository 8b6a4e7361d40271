"""Protobuf messages of the sharing RPCs, to and from the sharing records.

Kept beside ``coordinator.serde`` so that the sharing feature's wire types stay in one
place; servicers decode, make one call into ``Coordinator.sharing``, and encode here.
"""

from __future__ import annotations

import time

from coordinator._grants import GrantRecord, ShareRequestRecord
from coordinator.sharing_service import ResultSummary
from proto import fedaudit_pb2 as pb

__all__ = ["grant_info", "request_info", "result_info"]


def grant_info(grant: GrantRecord, now: float | None = None) -> pb.GrantInfo:
    """A stored grant, with its state at ``now`` (the clock by default)."""
    return pb.GrantInfo(
        grant_id=grant.grant_id, task_id=grant.task_id, office_id=grant.office_id,
        purpose=grant.purpose, parts=grant.parts, regions=list(grant.regions),
        not_before_unix=grant.not_before, expires_unix=grant.expires_at,
        issued_by=grant.issued_by, signers=list(grant.signers),
        state=grant.state(time.time() if now is None else now),
        created_unix=grant.created_at, revoked_unix=grant.revoked_at or 0,
        revoked_by=grant.revoked_by or "", revoke_reason=grant.revoke_reason or "",
        request_id=grant.request_id or "",
    )


def result_info(summary: ResultSummary, now: float | None = None) -> pb.ResultInfo:
    """A result as the caller may list it."""
    return pb.ResultInfo(
        task_id=summary.task_id, analysis=summary.analysis, title=summary.title,
        kind=summary.kind, state=summary.state, owner=summary.owner,
        classification=summary.classification, purpose=summary.purpose,
        finished_unix=summary.finished_at, rows=summary.rows,
        grants=[grant_info(g, now) for g in summary.grants],
    )


def request_info(request: ShareRequestRecord) -> pb.ShareRequestInfo:
    """A share request and its decision, if any."""
    return pb.ShareRequestInfo(
        request_id=request.request_id, task_id=request.task_id,
        requested_by=request.requested_by, for_office=request.for_office,
        purpose=request.purpose, parts=request.parts, regions=list(request.regions),
        duration_seconds=request.duration_seconds, note=request.note, state=request.state,
        created_unix=request.created_at, decided_by=request.decided_by or "",
        decided_unix=request.decided_at or 0, reason=request.reason or "",
        grant_id=request.grant_id or "",
    )
