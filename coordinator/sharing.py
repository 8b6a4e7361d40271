"""Signed sharing documents: grants of a result to an office, and a result's classification.

A sharing document is JSON written for people and machines alike, like a task file:

    {"format": "fedaudit-grant/v1",
     "grant": {...},               # a readable view of the payload, for review only
     "payload_b64": "...",         # the exact payload bytes: what is signed
     "signatures": [{"signer_id": ..., "key_id": ..., "signature": ...}]}

Issuers sign ``context + payload bytes`` with their Ed25519 keys (the context is
``b"fedaudit-grant/v1\\n"`` or ``b"fedaudit-classification/v1\\n"``, so a grant signature can
never pass for a task's or a receipt's). Nothing is re-serialized before verifying, and a
readable view that differs from the signed bytes is refused (``coordinator._documents``).
A grant names the result (task id), the office, the office's purpose, the parts shared
(``aggregate``, ``flags`` or ``all``), the regions (2- or 6-digit region-code prefixes,
none for every region), and its validity window. Verification functions raise
SharingError with a stable code.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from coordinator._documents import (
    DocumentSignature,
    SharingError,
    SignedDocument,
    load_document,
    new_document,
    parse_document,
    save_document,
    verify_signers,
)

__all__ = [
    "APPROVER_ROLE",
    "LEVELS",
    "PARTS",
    "Classification",
    "DocumentSignature",
    "Grant",
    "SharingError",
    "SignedDocument",
    "check_part",
    "draft_classification",
    "draft_grant",
    "iso_time",
    "load_document",
    "parse_document",
    "parse_regions",
    "region_matches",
    "result_part",
    "save_document",
    "verify_classification",
    "verify_grant",
    "verify_signers",
]

#: Classification levels, least to most protected; a result without one is ``internal``.
LEVELS = ("internal", "restricted", "confidential")
#: The parts of a result a grant can share.
PARTS = ("aggregate", "flags", "all")
#: The issuer role whose co-signature a ``confidential`` result's grants need.
APPROVER_ROLE = "approver"

_REGION = re.compile(r"[0-9]{2}|[0-9]{6}")
_GRANT_ID = re.compile(r"[0-9a-f]{16}")


def iso_time(unix: float) -> str:
    """Unix seconds as the ISO 8601 UTC text used in sharing documents."""
    return dt.datetime.fromtimestamp(unix, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unix(value: object, name: str) -> int:
    if not isinstance(value, str):
        raise SharingError(f"{name} must be an ISO 8601 UTC time string", "INVALID_REQUEST")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise SharingError(f"{name} {value!r} is not an ISO 8601 time", "INVALID_REQUEST") from exc
    if parsed.tzinfo is None:
        raise SharingError(f"{name} {value!r} has no time zone", "INVALID_REQUEST")
    return int(parsed.timestamp())


def _text(payload: Mapping, name: str, *, empty: bool = False) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise SharingError(f"the document's {name} must be a non-empty string", "INVALID_REQUEST")
    return value


# -- regions and parts --------------------------------------------------------------------


def parse_regions(values: str | Iterable[str]) -> tuple[str, ...]:
    """Region prefixes from ``"44,45"`` or a list: each 2 or 6 digits; sorted, unique.

    An empty input means every region. Raises SharingError (INVALID_REQUEST) naming the
    value at fault.
    """
    items = values.split(",") if isinstance(values, str) else list(values)
    regions = set()
    for item in items:
        if not isinstance(item, str):
            raise SharingError(f"region {item!r} is not a string", "INVALID_REQUEST")
        code = item.strip()
        if not code:
            continue
        if not _REGION.fullmatch(code):
            raise SharingError(f"region {code!r} is not a region code: give 2 digits for a "
                               "province (e.g. 44) or a 6-digit GB/T 2260 code (e.g. 440100)",
                               "INVALID_REQUEST")
        regions.add(code)
    return tuple(sorted(regions))


def region_matches(code: object, prefixes: Iterable[str]) -> bool:
    """Whether a region code falls under one of the prefixes (an empty tuple: any code)."""
    prefixes = tuple(prefixes)
    if not prefixes:
        return True
    return isinstance(code, str) and any(code.startswith(p) for p in prefixes)


def result_part(output_kind: str) -> str:
    """The part a result of this output kind is: ``aggregate``, or ``flags`` for tokens/flags."""
    return "aggregate" if output_kind == "aggregate" else "flags"


def check_part(grant: Grant, output_kind: str) -> None:
    """Raises SharingError (FORBIDDEN) if the grant does not share this result's part."""
    part = result_part(output_kind)
    if grant.parts not in ("all", part):
        raise SharingError(
            f"grant {grant.grant_id} shares only the {grant.parts} part, and this result is "
            f"the {part} part; ask the owner for a grant with --parts {part} or all",
            "FORBIDDEN")


# -- grants ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """What a grant's signed payload says: who may read which rows of a result, until when."""

    grant_id: str
    federation: str
    task_id: str
    office: str
    purpose: str
    parts: str
    regions: tuple[str, ...]
    not_before: int
    expires_at: int
    issued_by: str
    request_id: str = ""

    def to_payload(self) -> dict:
        """The payload dict that is serialized and signed."""
        return {"grant_id": self.grant_id, "federation": self.federation,
                "task_id": self.task_id, "office": self.office, "purpose": self.purpose,
                "parts": self.parts, "regions": list(self.regions),
                "not_before": iso_time(self.not_before), "expires_at": iso_time(self.expires_at),
                "issued_by": self.issued_by, "request_id": self.request_id}

    @classmethod
    def from_payload(cls, payload: Mapping) -> Grant:
        """Builds a Grant from a payload; raises SharingError (INVALID_REQUEST) naming the field."""
        grant_id = _text(payload, "grant_id")
        if not _GRANT_ID.fullmatch(grant_id):
            raise SharingError("the grant_id must be 16 lowercase hex digits", "INVALID_REQUEST")
        parts = payload.get("parts")
        if parts not in PARTS:
            raise SharingError(f"the grant's parts must be one of {', '.join(PARTS)}",
                               "INVALID_REQUEST")
        regions = payload.get("regions")
        if not isinstance(regions, list):
            raise SharingError("the grant's regions must be a list", "INVALID_REQUEST")
        grant = cls(grant_id, _text(payload, "federation"), _text(payload, "task_id"),
                    _text(payload, "office"), _text(payload, "purpose"), parts,
                    parse_regions(regions), _unix(payload.get("not_before"), "not_before"),
                    _unix(payload.get("expires_at"), "expires_at"),
                    _text(payload, "issued_by"), _text(payload, "request_id", empty=True))
        if grant.regions != tuple(regions):
            raise SharingError("the grant's regions must be sorted and unique", "INVALID_REQUEST")
        if grant.expires_at <= grant.not_before:
            raise SharingError("the grant expires before it starts", "INVALID_REQUEST")
        return grant


def draft_grant(*, federation: str, task_id: str, office: str, purpose: str, parts: str,
                regions: Iterable[str], lifetime: dt.timedelta, issued_by: str,
                request_id: str = "", now: float | None = None) -> SignedDocument:
    """A new unsigned grant with a fresh random id, valid from now for ``lifetime``.

    Raises SharingError for bad parts or regions, an empty purpose or a lifetime under
    one second.
    """
    start = int(dt.datetime.now(dt.UTC).timestamp() if now is None else now)
    seconds = int(lifetime.total_seconds())
    if seconds < 1:
        raise SharingError("a grant must last at least one second, e.g. --expires 30d",
                           "INVALID_REQUEST")
    if parts not in PARTS:
        raise SharingError(f"--parts must be one of {', '.join(PARTS)}", "INVALID_REQUEST")
    if not purpose.strip():
        raise SharingError("a grant needs a purpose: say why the office needs the result",
                           "INVALID_REQUEST")
    grant = Grant(secrets.token_hex(8), federation, task_id, office, purpose, parts,
                  parse_regions(regions), start, start + seconds, issued_by, request_id)
    return new_document("grant", grant.to_payload())


def verify_grant(document: SignedDocument, roster, *, owner: str, classification: str,
                 now: float) -> Grant:
    """Checks a grant completely and returns what it says.

    In order: the payload is a grant of this federation; every signature verifies
    against an issuer key of the roster; the grant is issued and signed by the result's
    ``owner``; a ``confidential`` result's grant is co-signed by another issuer holding
    the approver role; the office is an office of the roster; ``now`` is inside the
    validity window. Raises SharingError with code INVALID_REQUEST, BAD_SIGNATURE,
    UNKNOWN_ISSUER, FORBIDDEN or EXPIRED and a message saying what to do.
    """
    document.check_view()
    grant = Grant.from_payload(document.payload())
    if grant.federation != roster.federation:
        raise SharingError(f"the grant is for federation {grant.federation!r}, this "
                           f"coordinator serves {roster.federation!r}", "INVALID_REQUEST")
    signers = verify_signers(document, roster)
    if grant.issued_by != owner or owner not in signers:
        raise SharingError(f"grant {grant.grant_id} is issued by {grant.issued_by} and signed "
                           f"by {', '.join(sorted(signers))}, but task {grant.task_id} is "
                           f"owned by {owner}: only the owner can share it", "FORBIDDEN")
    if classification == "confidential" and not any(
            p.id != owner and APPROVER_ROLE in p.roles for p in signers.values()):
        raise SharingError(f"task {grant.task_id} is confidential: its grants need an "
                           "approver's co-signature (fedaudit results cosign GRANT_FILE "
                           "--kit APPROVER_KIT)", "FORBIDDEN")
    office = roster.party(grant.office)
    if office is None or office.role != "office":
        raise SharingError(f"{grant.office} is not an office of this federation; "
                           "name an office from the roster", "INVALID_REQUEST")
    if now >= grant.expires_at:
        raise SharingError(f"grant {grant.grant_id} expired at {iso_time(grant.expires_at)}; "
                           "ask the owner for a new grant", "EXPIRED")
    if now < grant.not_before:
        raise SharingError(f"grant {grant.grant_id} is valid only from "
                           f"{iso_time(grant.not_before)}", "FORBIDDEN")
    return grant


# -- classification ----------------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    """What a classification's signed payload says: the level its owner set on a result."""

    task_id: str
    federation: str
    level: str
    issued_by: str
    issued_at: int


def draft_classification(*, federation: str, task_id: str, level: str, issued_by: str,
                         now: float | None = None) -> SignedDocument:
    """A new unsigned classification; raises SharingError for an unknown level."""
    if level not in LEVELS:
        raise SharingError(f"the level must be one of {', '.join(LEVELS)}", "INVALID_REQUEST")
    issued = int(dt.datetime.now(dt.UTC).timestamp() if now is None else now)
    return new_document("classification", {
        "task_id": task_id, "federation": federation, "level": level,
        "issued_by": issued_by, "issued_at": iso_time(issued)})


def verify_classification(document: SignedDocument, roster, *, owner: str,
                          current: str) -> Classification:
    """Checks a classification set by the result's owner and returns it.

    Lowering a ``confidential`` result needs an approver's co-signature, as its grants
    do. Raises SharingError (INVALID_REQUEST, BAD_SIGNATURE, UNKNOWN_ISSUER, FORBIDDEN).
    """
    document.check_view()
    payload = document.payload()
    level = payload.get("level")
    if level not in LEVELS:
        raise SharingError(f"the level must be one of {', '.join(LEVELS)}", "INVALID_REQUEST")
    found = Classification(_text(payload, "task_id"), _text(payload, "federation"), level,
                           _text(payload, "issued_by"), _unix(payload.get("issued_at"),
                                                              "issued_at"))
    if found.federation != roster.federation:
        raise SharingError("the classification is for another federation", "INVALID_REQUEST")
    signers = verify_signers(document, roster)
    if found.issued_by != owner or owner not in signers:
        raise SharingError(f"task {found.task_id} is owned by {owner}: only the owner can "
                           "classify it", "FORBIDDEN")
    if current == "confidential" and level != "confidential" and not any(
            p.id != owner and APPROVER_ROLE in p.roles for p in signers.values()):
        raise SharingError(f"task {found.task_id} is confidential: lowering it needs an "
                           "approver's co-signature (--approver-kit)", "FORBIDDEN")
    return found
