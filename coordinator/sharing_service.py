"""Results as owned objects at the coordinator: classification, grants, requests and reads.

The owner of a result is the issuer who submitted its task. Issuers (HQ) read every
result; an office reads a result only through grants its owner signed, and only the rows
and parts those grants allow. Every grant is re-verified from its signed document on
every read, so a revoked, expired or no longer valid grant stops working at once. Every
read, refusal and sharing decision is appended to the access log before it takes effect.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

from coordinator._grants import GrantRecord, ShareRequestRecord
from coordinator._scope import RowScope, office_provenance, scoped_chunks, scoped_rows
from coordinator.access_log import AccessLog
from coordinator.errors import CoordinatorError
from coordinator.sharing import (
    APPROVER_ROLE,
    PARTS,
    Grant,
    SharingError,
    check_part,
    iso_time,
    parse_document,
    parse_regions,
    verify_classification,
    verify_grant,
    verify_signers,
)
from coordinator.store import StoreError

__all__ = ["CLOCK_SKEW", "ResultSummary", "Sharing"]

#: Seconds a classification may be dated ahead of the coordinator's clock.
CLOCK_SKEW = 300


@dataclass(frozen=True)
class ResultSummary:
    """One result as a caller may list it, with the grants that caller may see."""

    task_id: str
    analysis: str
    title: str
    kind: str
    state: str
    owner: str
    classification: str
    purpose: str
    finished_at: int
    rows: int
    grants: tuple[GrantRecord, ...]


def _store_error(exc: StoreError) -> CoordinatorError:
    from coordinator._grants import UnknownGrant
    from coordinator.store import UnknownTask

    code = "NOT_FOUND" if isinstance(exc, UnknownGrant | UnknownTask) else "INVALID_REQUEST"
    return CoordinatorError(str(exc), code)


class Sharing:
    """The sharing rules of one Coordinator; reach it as ``coordinator.sharing``."""

    def __init__(self, coordinator) -> None:
        self.coordinator = coordinator
        self.store = coordinator.store
        self.roster = coordinator.roster
        self.access_log = AccessLog(coordinator.home.path, verify=True)

    # -- helpers -----------------------------------------------------------------------

    def _party(self, party_id: str):
        party = self.roster.party(party_id)
        if party is None or party.role not in ("issuer", "office"):
            raise CoordinatorError(f"{party_id} is not an issuer or office of this federation",
                                   "FORBIDDEN")
        return party

    def _task(self, task_id: str):
        record = self.store.task(task_id)
        if record is None:
            raise CoordinatorError(f"no task {task_id}; list results with "
                                   "`fedaudit results list`", "NOT_FOUND")
        return record

    def classification(self, task_id: str) -> str:
        """The result's classification level (``internal`` until its owner sets one)."""
        meta = self.store.result_meta(task_id)
        return meta.classification if meta else "internal"

    def _owner_or_approver(self, caller: str, record, action: str) -> None:
        party = self._party(caller)
        if caller != record.submitted_by and APPROVER_ROLE not in party.roles:
            raise CoordinatorError(f"only {record.submitted_by}, the owner of task "
                                   f"{record.task_id}, or an approver may {action}", "FORBIDDEN")

    # -- the owner ---------------------------------------------------------------------

    def classify(self, caller: str, document_json: bytes) -> ResultSummary:
        """Stores a classification the owner signed; raises CoordinatorError (SharingError)."""
        document = parse_document(document_json, "classification")
        task_id = document.payload().get("task_id")
        record = self._task(task_id if isinstance(task_id, str) else "")
        meta = self.store.result_meta(record.task_id)
        found = verify_classification(document, self.roster, owner=record.submitted_by,
                                      current=meta.classification if meta else "internal")
        if found.issued_at > time.time() + CLOCK_SKEW:
            raise SharingError(f"the classification is dated {iso_time(found.issued_at)}, in the "
                               "future; check the signer's clock and sign it again",
                               "INVALID_REQUEST")
        if meta and found.issued_at < meta.set_at:
            raise SharingError(f"task {record.task_id} was classified again after this "
                               "classification was signed; sign a new one", "INVALID_REQUEST")
        self.access_log.record("result.classified", who=caller, task_id=record.task_id,
                               level=found.level, signed_by=found.issued_by)
        self.store.set_classification(record.task_id, found.level, document.to_json(),
                                      found.issued_by, now=found.issued_at)
        return self._summary(self._task(record.task_id), self.store.grants(
            task_id=record.task_id))

    def share(self, caller: str, document_json: bytes, *, request_id: str = "",
              now: float | None = None) -> GrantRecord:
        """Verifies and stores a grant; with ``request_id`` it approves that request.

        Raises CoordinatorError: SharingError codes from ``verify_grant``, NOT_FOUND, or
        INVALID_REQUEST (a grant submitted twice, a request already decided).
        """
        now = time.time() if now is None else now
        document = parse_document(document_json, "grant")
        task_id = document.payload().get("task_id")
        record = self._task(task_id if isinstance(task_id, str) else "")
        grant = verify_grant(document, self.roster, owner=record.submitted_by,
                             classification=self.classification(record.task_id), now=now)
        if grant.request_id != request_id:
            raise SharingError(f"grant {grant.grant_id} names share request "
                               f"{grant.request_id or '(none)'}; approve a request with "
                               "`fedaudit results approve`", "INVALID_REQUEST")
        signers = sorted(verify_signers(document, self.roster))
        self._check_new(grant, request_id)
        extra = {"request": request_id} if request_id else {}
        self.access_log.record("share.granted", who=caller, task_id=record.task_id,
                               grant=grant.grant_id, office=grant.office, parts=grant.parts,
                               regions=list(grant.regions), expires_at=iso_time(grant.expires_at),
                               signed_by=signers, **extra)
        try:
            return self.store.add_grant(
                grant_id=grant.grant_id, task_id=grant.task_id, office_id=grant.office,
                purpose=grant.purpose, parts=grant.parts, regions=grant.regions,
                not_before=grant.not_before, expires_at=grant.expires_at,
                issued_by=grant.issued_by, signers=signers, document=document.to_json(),
                request_id=request_id or None, decided_by=caller, now=int(now))
        except StoreError as exc:
            raise _store_error(exc) from exc

    def _check_new(self, grant: Grant, request_id: str) -> None:
        """Refuses a grant submitted twice, or one for a request that cannot take it,
        before anything is logged (the store checks again in its transaction)."""
        if self.store.grant(grant.grant_id) is not None:
            raise CoordinatorError(f"grant {grant.grant_id} was already submitted; draft a "
                                   "new grant with `fedaudit results share`", "INVALID_REQUEST")
        request = self.store.share_request(request_id) if request_id else None
        if request_id and request is None:
            raise CoordinatorError(f"no share request {request_id}", "NOT_FOUND")
        if request is not None and request.state != "pending":
            raise CoordinatorError(f"share request {request_id} was already {request.state}",
                                   "INVALID_REQUEST")
        if request is not None and (request.task_id, request.for_office) != (
                grant.task_id, grant.office):
            raise CoordinatorError(f"share request {request_id} asks for task "
                                   f"{request.task_id} to go to {request.for_office}; the "
                                   "grant must say the same", "INVALID_REQUEST")

    def revoke(self, caller: str, grant_id: str, reason: str = "",
               now: float | None = None) -> GrantRecord:
        """Revokes a grant from now on; the owner or an approver may. Raises CoordinatorError."""
        grant = self.store.grant(grant_id)
        if grant is None:
            raise CoordinatorError(f"no grant {grant_id}; list them with "
                                   "`fedaudit results grants TASK_ID`", "NOT_FOUND")
        self._owner_or_approver(caller, self._task(grant.task_id), "revoke its grants")
        if grant.revoked_at is not None:
            raise CoordinatorError(f"grant {grant_id} was already revoked by "
                                   f"{grant.revoked_by} at {iso_time(grant.revoked_at)}",
                                   "INVALID_REQUEST")
        self.access_log.record("share.revoked", who=caller, task_id=grant.task_id,
                               grant=grant_id, office=grant.office_id, reason=reason)
        try:
            return self.store.revoke_grant(grant_id, caller, reason,
                                           now=None if now is None else int(now))
        except StoreError as exc:
            raise _store_error(exc) from exc

    def decide(self, caller: str, request_id: str, approve: bool, grant_json: bytes = b"",
               reason: str = "", now: float | None = None) -> ShareRequestRecord:
        """The owner approves a share request with a signed grant, or declines it.

        Raises CoordinatorError (NOT_FOUND, FORBIDDEN, the grant's verification codes).
        """
        request = self.store.share_request(request_id)
        if request is None:
            raise CoordinatorError(f"no share request {request_id}; list them with "
                                   "`fedaudit results requests`", "NOT_FOUND")
        record = self._task(request.task_id)
        if caller != record.submitted_by:
            raise CoordinatorError(f"only {record.submitted_by}, the owner of task "
                                   f"{record.task_id}, may decide its share requests",
                                   "FORBIDDEN")
        if request.state != "pending":
            raise CoordinatorError(f"share request {request_id} was already {request.state}",
                                   "INVALID_REQUEST")
        if approve:
            self.share(caller, grant_json, request_id=request_id, now=now)
        else:
            self.access_log.record("share.declined", who=caller, task_id=record.task_id,
                                   request=request_id, reason=reason)
            try:
                self.store.decline_share_request(request_id, caller, reason,
                                                 now=None if now is None else int(now))
            except StoreError as exc:
                raise _store_error(exc) from exc
        return self.store.share_request(request_id)

    # -- offices -----------------------------------------------------------------------

    def request_share(self, caller: str, *, task_id: str, for_office: str, purpose: str,
                      parts: str, regions, duration_seconds: int, note: str = "",
                      now: float | None = None) -> ShareRequestRecord:
        """An office with a valid grant asks the owner to share with another office.

        Raises CoordinatorError (FORBIDDEN without a usable grant, INVALID_REQUEST).
        """
        now = time.time() if now is None else now
        party = self._party(caller)
        if party.role != "office":
            raise CoordinatorError("only an office requests a re-share; an owner shares "
                                   "with `fedaudit results share`", "FORBIDDEN")
        self._usable_grants(caller, task_id, now)
        target = self.roster.party(for_office)
        if target is None or target.role != "office" or for_office == caller:
            raise CoordinatorError(f"{for_office} is not another office of this federation",
                                   "INVALID_REQUEST")
        if parts not in PARTS or duration_seconds < 1 or not purpose.strip():
            raise CoordinatorError(f"a share request needs parts ({', '.join(PARTS)}), a "
                                   "purpose and a duration of at least one second",
                                   "INVALID_REQUEST")
        request_id = secrets.token_hex(8)
        regions = parse_regions(regions)
        self.access_log.record("share.requested", who=caller, task_id=task_id,
                               request=request_id, office=for_office, parts=parts,
                               regions=list(regions))
        return self.store.add_share_request(
            request_id=request_id, task_id=task_id, requested_by=caller, for_office=for_office,
            purpose=purpose, parts=parts, regions=regions, duration_seconds=duration_seconds,
            note=note, now=int(now))

    def _usable_grants(self, office: str, task_id: str, now: float) -> list[Grant]:
        """The office's grants on the task that allow a read now, each re-verified.

        Raises SharingError naming why the newest grant fails when none allows a read.
        """
        record = self.store.task(task_id)
        stored = self.store.grants(task_id=task_id, office_id=office) if record else []
        if not stored:
            raise SharingError(f"nothing of task {task_id} is shared with {office}; ask the "
                               "result's owner to share it with you", "FORBIDDEN")
        classification = self.classification(task_id)
        usable, refusals = [], []
        for entry in reversed(stored):
            try:
                if entry.revoked_at is not None:
                    raise SharingError(f"grant {entry.grant_id} was revoked by "
                                       f"{entry.revoked_by} at {iso_time(entry.revoked_at)}; ask "
                                       "the owner for a new grant", "FORBIDDEN")
                grant = verify_grant(parse_document(entry.document, "grant"), self.roster,
                                     owner=record.submitted_by,
                                     classification=classification, now=now)
                if (grant.grant_id, grant.task_id, grant.office) != (
                        entry.grant_id, task_id, office):
                    raise SharingError(f"grant {entry.grant_id} does not match its signed "
                                       "document", "BAD_SIGNATURE")
                check_part(grant, record.output_kind)
                usable.append(grant)
            except SharingError as exc:
                refusals.append(exc)
        if not usable:
            raise refusals[0]
        return usable

    # -- listing -----------------------------------------------------------------------

    def grants(self, caller: str, task_id: str) -> list[GrantRecord]:
        """Every grant on the result for issuers; an office's own grants for an office."""
        if self._party(caller).role == "office":
            return self.store.grants(task_id=task_id, office_id=caller)
        return self.store.grants(task_id=self._task(task_id).task_id)

    def requests(self, caller: str, task_id: str = "") -> list[ShareRequestRecord]:
        """Share requests: all for issuers, the office's own for an office."""
        office = caller if self._party(caller).role == "office" else None
        return self.store.share_requests(task_id=task_id or None, requested_by=office)

    def results(self, caller: str) -> list[ResultSummary]:
        """Every result for issuers; for an office, the results with a grant to it."""
        if self._party(caller).role == "office":
            grants: dict[str, list[GrantRecord]] = {}
            for grant in self.store.grants(office_id=caller):
                grants.setdefault(grant.task_id, []).append(grant)
            return [self._summary(self._task(t), g, rows=False) for t, g in grants.items()]
        grants = {}
        for grant in self.store.grants():
            grants.setdefault(grant.task_id, []).append(grant)
        return [self._summary(r, grants.get(r.task_id, ())) for r in self.store.tasks()]

    def _summary(self, record, grants, rows: bool = True) -> ResultSummary:
        from analyses.tasks import SignedTask

        spec = SignedTask.from_bytes(record.signed_task).spec
        purpose = " · ".join(p for p in (spec.purpose.project, spec.purpose.text,
                                         spec.purpose.legal_basis) if p)
        try:
            title = self.coordinator.library.get(record.analysis_id).title_en
        except Exception:  # a model no longer in the library still has its result
            title = record.analysis_id
        total = (record.provenance or {}).get("rows") or 0 if rows else 0
        return ResultSummary(record.task_id, record.analysis, title, record.output_kind,
                             record.state, record.submitted_by,
                             self.classification(record.task_id), purpose,
                             record.finished_at or 0, total, tuple(grants))

    # -- reading -----------------------------------------------------------------------

    def read(self, caller: str, task_id: str,
             now: float | None = None) -> tuple[bytes, Iterator[bytes]]:
        """(provenance JSON, Arrow IPC chunks) of the result as the caller may see it.

        Issuers get the whole result; an office gets the rows and parts of its valid
        grants, with a provenance trimmed to them. The read is logged before any row
        leaves; a refusal is logged too. Raises CoordinatorError: FORBIDDEN, EXPIRED,
        BAD_SIGNATURE (office refusals), NOT_FOUND, NOT_READY.
        """
        now = time.time() if now is None else now
        party = self._party(caller)
        try:
            if party.role == "office":
                grants = self._usable_grants(caller, task_id, now)
                regions = () if any(not g.regions for g in grants) else parse_regions(
                    r for g in grants for r in g.regions)
                basis = ",".join(g.grant_id for g in grants)
            else:
                grants, regions = [], ()
                basis = "owner" if caller == self._task(task_id).submitted_by else "issuer"
            record = self._task(task_id)
            if record.state == "running":
                raise CoordinatorError(f"task {task_id} is still running: watch it with "
                                       f"`fedaudit task watch {task_id}`", "NOT_READY")
            scope = RowScope(regions, {n.id: n.region for n in self.roster.nodes()})
            path = record.result_path
            rows = scoped_rows(path, scope, task_id) if path else 0
        except CoordinatorError as exc:
            self.access_log.record("result.refused", who=caller, role=party.role,
                                   task_id=task_id, code=exc.code, reason=str(exc))
            raise
        from coordinator.results import load_provenance
        from coordinator.service import provenance_json

        provenance = load_provenance(self.coordinator.home.path, task_id)
        if party.role == "office":
            provenance = office_provenance(provenance, record.submitted_by, scope,
                                           grants, rows)
        self.access_log.record("result.read", who=caller, role=party.role, task_id=task_id,
                               grant=basis, rows=rows, regions=list(regions),
                               parts=sorted({g.parts for g in grants}) or ["all"])
        chunks = scoped_chunks(path, scope, task_id) if path else iter(())
        return provenance_json(provenance), chunks
