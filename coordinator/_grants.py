"""The task store's sharing tables: result classifications, grants and re-share requests.

Every grant and classification keeps the signed document exactly as it was received; the
other columns copy what it says, for listing. Reads that release data re-verify the
document itself, so an edited column cannot widen a grant.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from coordinator._sqlite import Database, StoreError, UnknownTask, now_or_clock

__all__ = [
    "DuplicateGrant",
    "GrantRecord",
    "GrantTable",
    "ResultMeta",
    "ShareRequestRecord",
    "UnknownGrant",
]


class DuplicateGrant(StoreError):
    """A grant id that the store already holds (a grant is submitted once)."""


class UnknownGrant(StoreError):
    """A grant or share request id that the store does not hold."""


@dataclass(frozen=True)
class ResultMeta:
    """A result's classification as its owner last set it, with the signed document."""

    task_id: str
    classification: str
    document: str
    set_by: str
    set_at: int


@dataclass(frozen=True)
class GrantRecord:
    """A stored grant: what its signed document says, and whether it was revoked."""

    grant_id: str
    task_id: str
    office_id: str
    purpose: str
    parts: str
    regions: tuple[str, ...]
    not_before: int
    expires_at: int
    issued_by: str
    signers: tuple[str, ...]
    document: str
    request_id: str | None
    created_at: int
    revoked_at: int | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    def state(self, now: float) -> str:
        """``revoked``, ``expired``, ``scheduled`` (not valid yet) or ``active`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        return "scheduled" if now < self.not_before else "active"


@dataclass(frozen=True)
class ShareRequestRecord:
    """An office's request that the owner share a result with another office."""

    request_id: str
    task_id: str
    requested_by: str
    for_office: str
    purpose: str
    parts: str
    regions: tuple[str, ...]
    duration_seconds: int
    note: str
    state: str
    created_at: int
    decided_by: str | None = None
    decided_at: int | None = None
    reason: str | None = None
    grant_id: str | None = None


def _grant(row: sqlite3.Row) -> GrantRecord:
    return GrantRecord(row["grant_id"], row["task_id"], row["office_id"], row["purpose"],
                       row["parts"], tuple(json.loads(row["regions"])), row["not_before"],
                       row["expires_at"], row["issued_by"], tuple(json.loads(row["signers"])),
                       row["document"], row["request_id"], row["created_at"],
                       row["revoked_at"], row["revoked_by"], row["revoke_reason"])


def _request(row: sqlite3.Row) -> ShareRequestRecord:
    return ShareRequestRecord(row["request_id"], row["task_id"], row["requested_by"],
                              row["for_office"], row["purpose"], row["parts"],
                              tuple(json.loads(row["regions"])), row["duration_seconds"],
                              row["note"], row["state"], row["created_at"], row["decided_by"],
                              row["decided_at"], row["reason"], row["grant_id"])


class GrantTable(Database):
    """The sharing half of the task store; TaskStore mixes it in."""

    @staticmethod
    def _require_task(db: sqlite3.Connection, task_id: str) -> None:
        if db.execute("SELECT 1 FROM tasks WHERE task_id = ?", (task_id,)).fetchone() is None:
            raise UnknownTask(f"no task {task_id} in this coordinator; check the task id")

    # -- classification ----------------------------------------------------------------

    def result_meta(self, task_id: str) -> ResultMeta | None:
        """The result's classification record, or None if its owner never set one."""
        with self._read() as db:
            row = db.execute("SELECT * FROM result_meta WHERE task_id = ?",
                             (task_id,)).fetchone()
        return None if row is None else ResultMeta(*tuple(row))

    def set_classification(self, task_id: str, level: str, document: str, set_by: str, *,
                           now: int | None = None) -> None:
        """Stores the result's classification, replacing the previous one.

        Raises UnknownTask, and sqlite3.IntegrityError for an unknown level.
        """
        with self._write() as db:
            self._require_task(db, task_id)
            db.execute(
                "INSERT INTO result_meta (task_id, classification, document, set_by, set_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (task_id) DO UPDATE SET "
                "classification = excluded.classification, document = excluded.document, "
                "set_by = excluded.set_by, set_at = excluded.set_at",
                (task_id, level, document, set_by, now_or_clock(now)))

    # -- grants ------------------------------------------------------------------------

    def add_grant(self, *, grant_id: str, task_id: str, office_id: str, purpose: str,
                  parts: str, regions: Sequence[str], not_before: int, expires_at: int,
                  issued_by: str, signers: Sequence[str], document: str,
                  request_id: str | None = None, decided_by: str | None = None,
                  now: int | None = None) -> GrantRecord:
        """Stores a verified grant; with ``request_id`` it also approves that request.

        Both happen in one transaction. Raises UnknownTask, DuplicateGrant if the grant
        id is known, UnknownGrant if the request is unknown, and StoreError if the request
        is for another task or office or was already decided.
        """
        created = now_or_clock(now)
        with self._write() as db:
            self._require_task(db, task_id)
            if db.execute("SELECT 1 FROM grants WHERE grant_id = ?", (grant_id,)).fetchone():
                raise DuplicateGrant(f"grant {grant_id} was already submitted; draft a new "
                                     "grant with `fedaudit results share`")
            if request_id:
                self._approve(db, request_id, task_id, office_id, grant_id,
                              decided_by or issued_by, created)
            db.execute(
                "INSERT INTO grants (grant_id, task_id, office_id, purpose, parts, regions, "
                "not_before, expires_at, issued_by, signers, document, request_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (grant_id, task_id, office_id, purpose, parts, json.dumps(list(regions)),
                 int(not_before), int(expires_at), issued_by, json.dumps(list(signers)),
                 document, request_id or None, created))
        return self.grant(grant_id)

    @staticmethod
    def _approve(db: sqlite3.Connection, request_id: str, task_id: str, office_id: str,
                 grant_id: str, decided_by: str, now: int) -> None:
        row = db.execute("SELECT * FROM share_requests WHERE request_id = ?",
                         (request_id,)).fetchone()
        if row is None:
            raise UnknownGrant(f"no share request {request_id}; list them with "
                               "`fedaudit results requests`")
        if (row["task_id"], row["for_office"]) != (task_id, office_id):
            raise StoreError(f"share request {request_id} asks for task {row['task_id']} to go "
                             f"to {row['for_office']}; the grant must say the same")
        if row["state"] != "pending":
            raise StoreError(f"share request {request_id} was already {row['state']}")
        db.execute("UPDATE share_requests SET state = 'approved', decided_by = ?, "
                   "decided_at = ?, grant_id = ? WHERE request_id = ?",
                   (decided_by, now, grant_id, request_id))

    def grant(self, grant_id: str) -> GrantRecord | None:
        """The grant, or None if the store does not hold it."""
        with self._read() as db:
            row = db.execute("SELECT * FROM grants WHERE grant_id = ?", (grant_id,)).fetchone()
        return None if row is None else _grant(row)

    def grants(self, *, task_id: str | None = None,
               office_id: str | None = None) -> list[GrantRecord]:
        """Grants, optionally of one task and/or to one office, oldest first."""
        where, values = _filters(task_id=task_id, office_id=office_id)
        with self._read() as db:
            rows = db.execute(f"SELECT * FROM grants{where} ORDER BY created_at, grant_id",
                              values).fetchall()
        return [_grant(r) for r in rows]

    def revoke_grant(self, grant_id: str, revoked_by: str, reason: str = "", *,
                     now: int | None = None) -> GrantRecord:
        """Marks the grant revoked from ``now`` on and returns it.

        Raises UnknownGrant, and StoreError if it was already revoked.
        """
        with self._write() as db:
            row = db.execute("SELECT revoked_at, revoked_by FROM grants WHERE grant_id = ?",
                             (grant_id,)).fetchone()
            if row is None:
                raise UnknownGrant(f"no grant {grant_id}; list them with "
                                   "`fedaudit results grants TASK_ID`")
            if row["revoked_at"] is not None:
                raise StoreError(f"grant {grant_id} was already revoked by {row['revoked_by']}")
            db.execute("UPDATE grants SET revoked_at = ?, revoked_by = ?, revoke_reason = ? "
                       "WHERE grant_id = ?", (now_or_clock(now), revoked_by, reason, grant_id))
        return self.grant(grant_id)

    # -- share requests ----------------------------------------------------------------

    def add_share_request(self, *, request_id: str, task_id: str, requested_by: str,
                          for_office: str, purpose: str, parts: str, regions: Sequence[str],
                          duration_seconds: int, note: str = "",
                          now: int | None = None) -> ShareRequestRecord:
        """Stores a pending share request; raises UnknownTask or StoreError for a known id."""
        with self._write() as db:
            self._require_task(db, task_id)
            try:
                db.execute(
                    "INSERT INTO share_requests (request_id, task_id, requested_by, for_office, "
                    "purpose, parts, regions, duration_seconds, note, state, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                    (request_id, task_id, requested_by, for_office, purpose, parts,
                     json.dumps(list(regions)), int(duration_seconds), note, now_or_clock(now)))
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"share request {request_id} cannot be stored: {exc}") from exc
        return self.share_request(request_id)

    def share_request(self, request_id: str) -> ShareRequestRecord | None:
        """The share request, or None if the store does not hold it."""
        with self._read() as db:
            row = db.execute("SELECT * FROM share_requests WHERE request_id = ?",
                             (request_id,)).fetchone()
        return None if row is None else _request(row)

    def share_requests(self, *, task_id: str | None = None,
                       requested_by: str | None = None) -> list[ShareRequestRecord]:
        """Share requests, optionally of one task and/or by one office, oldest first."""
        where, values = _filters(task_id=task_id, requested_by=requested_by)
        with self._read() as db:
            rows = db.execute(f"SELECT * FROM share_requests{where} "
                              "ORDER BY created_at, request_id", values).fetchall()
        return [_request(r) for r in rows]

    def decline_share_request(self, request_id: str, decided_by: str, reason: str, *,
                              now: int | None = None) -> ShareRequestRecord:
        """Marks a pending request declined; raises UnknownGrant, or StoreError if decided."""
        with self._write() as db:
            row = db.execute("SELECT state FROM share_requests WHERE request_id = ?",
                             (request_id,)).fetchone()
            if row is None:
                raise UnknownGrant(f"no share request {request_id}; list them with "
                                   "`fedaudit results requests`")
            if row["state"] != "pending":
                raise StoreError(f"share request {request_id} was already {row['state']}")
            db.execute("UPDATE share_requests SET state = 'declined', decided_by = ?, "
                       "decided_at = ?, reason = ? WHERE request_id = ?",
                       (decided_by, now_or_clock(now), reason, request_id))
        return self.share_request(request_id)


def _filters(**columns: str | None) -> tuple[str, tuple]:
    """A WHERE clause matching every column given a value, and its values."""
    given = {k: v for k, v in columns.items() if v is not None}
    if not given:
        return "", ()
    return " WHERE " + " AND ".join(f"{k} = ?" for k in given), tuple(given.values())
