"""Provisioning: a whole federation from a spec, and one more party added to it later.

`provision` writes OUT/federation/ (the CA, the admin roster-signing key, the roster,
a copy of the spec) and one kit per party in OUT/<id>/, plus OUT/coordinator/. It
builds everything in a temporary sibling folder and renames it into place at the end,
so a failure leaves nothing half-written. `issue_party` adds a party to an existing
OUT, re-signs the roster with the next version, and refreshes every kit's roster.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs._files import make_private_dir, write_file
from certs._kits import new_party, write_kit
from certs.ca import create_ca, new_tls_key
from certs.errors import CertsError, SpecError
from certs.kit import KIT_FILE
from certs.roster import Roster, load_roster, sign_roster
from certs.signing import _load_pem_private_key, public_bytes, save_private_key, save_public_key
from certs.spec import check_level, check_names, check_party_id, check_region, load_spec

__all__ = ["IssueResult", "ProvisionResult", "issue_party", "provision"]

FEDERATION_DIR = "federation"
COORDINATOR_ID = "coordinator"


@dataclass(frozen=True)
class ProvisionResult:
    """What `provision` wrote."""

    out_dir: Path
    federation_dir: Path
    #: (party id, role, kit folder) for every kit, the coordinator's first.
    kits: tuple[tuple[str, str, Path], ...]
    roster_version: int


@dataclass(frozen=True)
class IssueResult:
    """What `issue_party` wrote."""

    kit_dir: Path
    roster_version: int
    #: Every roster.json rewritten with the new version, the federation's first.
    refreshed: tuple[Path, ...]


def provision(spec_path: str | os.PathLike, out_dir: str | os.PathLike,
              force: bool = False) -> ProvisionResult:
    """Creates a federation from the spec at spec_path in out_dir.

    Raises SpecError if the spec is invalid, or if out_dir already holds a federation
    and force is not set (with force the old federation is replaced as a whole), or
    if out_dir is a non-empty folder that holds no federation (never overwritten).
    Raises OSError if the folder cannot be written.
    """
    spec_path, out = Path(spec_path), Path(out_dir)
    spec = load_spec(spec_path)
    spec_bytes = spec_path.read_bytes()
    replacing = _check_target(out, force)
    out.absolute().parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.absolute().parent))
    try:
        ca_key = new_tls_key()
        ca_cert = create_ca(spec.name, ca_key)
        admin_key = Ed25519PrivateKey.generate()
        common = {"federation": spec.name, "coordinator": spec.coordinator}
        made = [new_party(ca_cert, ca_key, **common, party_id=COORDINATOR_ID, role="coordinator")]
        made += [new_party(ca_cert, ca_key, **common, party_id=n.id, role="node", level=n.level,
                           region=n.region, datasets=n.datasets) for n in spec.nodes]
        made += [new_party(ca_cert, ca_key, **common, party_id=i.id, role="issuer",
                           roles=i.roles) for i in spec.issuers]
        made += [new_party(ca_cert, ca_key, **common, party_id=o.id, role="office")
                 for o in spec.offices]
        roster = Roster(spec.name, 1, _now(), spec.coordinator, tuple(m.party for m in made))
        roster_bytes = sign_roster(roster.to_payload(), admin_key)
        fed = make_private_dir(tmp / FEDERATION_DIR)
        write_file(fed / "ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM))
        save_private_key(ca_key, fed / "ca.key")
        save_private_key(admin_key, fed / "admin.key")
        save_public_key(admin_key, fed / "admin.pub")
        write_file(fed / "roster.json", roster_bytes)
        write_file(fed / "spec.toml", spec_bytes)
        for m in made:
            write_kit(tmp / m.party.id, m, **common, ca_cert=ca_cert,
                      admin_public_key=public_bytes(admin_key), roster_bytes=roster_bytes)
        _swap_into_place(tmp, out, replacing)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    kits = tuple((m.party.id, m.party.role, out / m.party.id) for m in made)
    return ProvisionResult(out, out / FEDERATION_DIR, kits, roster.version)


def issue_party(federation_dir: str | os.PathLike, *, party_id: str, role: str,
                level: str | None = None, region: str | None = None,
                datasets: tuple[str, ...] | list[str] = (),
                roles: tuple[str, ...] | list[str] = ()) -> IssueResult:
    """Adds one node, issuer or office to the federation provisioned in federation_dir.

    federation_dir is the folder given to `provision` (the one holding `federation/`).
    Writes the kit to federation_dir/<party_id>/, re-signs the roster with version+1,
    and rewrites roster.json in federation/ and in every kit folder under
    federation_dir. Raises CertsError for a missing federation, a duplicate or invalid
    id, a bad role, or attributes the role does not take; RosterError if the current
    roster does not verify; OSError if a folder cannot be written.
    """
    out = Path(federation_dir)
    if out.name == FEDERATION_DIR and (out / "roster.json").is_file():
        out = out.parent
    ca_cert, ca_key, admin_key, roster = _open_federation(out)
    check_party_id(party_id, "party id")
    if roster.party(party_id) is not None or (out / party_id).exists():
        raise CertsError(f"party {party_id!r} already exists in federation {roster.federation!r}; "
                         "choose another id")
    level, region, datasets, roles = _check_attributes(role, level, region, datasets, roles)
    made = new_party(ca_cert, ca_key, federation=roster.federation,
                     coordinator=roster.coordinator, party_id=party_id, role=role,
                     level=level, region=region, datasets=datasets, roles=roles)
    payload = roster.to_payload()
    payload |= {"version": roster.version + 1, "issued_at": _now(),
                "parties": [*payload["parties"], made.party.to_payload()]}
    roster_bytes = sign_roster(payload, admin_key)
    tmp = Path(tempfile.mkdtemp(prefix=f".{party_id}.new-", dir=out))
    try:
        write_kit(tmp, made, federation=roster.federation, coordinator=roster.coordinator,
                  ca_cert=ca_cert, admin_public_key=public_bytes(admin_key),
                  roster_bytes=roster_bytes)
        os.rename(tmp, out / party_id)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    refreshed = [write_file(out / FEDERATION_DIR / "roster.json", roster_bytes)]
    for folder in sorted(p for p in out.iterdir() if (p / KIT_FILE).is_file()):
        if folder.name != party_id:
            refreshed.append(write_file(folder / "roster.json", roster_bytes))
    return IssueResult(out / party_id, roster.version + 1, tuple(refreshed))


def _check_target(out: Path, force: bool) -> bool:
    """Decides whether out may be written; returns True if a federation is replaced."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise SpecError(f"{out} exists and is not a folder; choose another --out")
    if (out / FEDERATION_DIR).exists():
        if not force:
            raise SpecError(f"{out} already holds a federation; add --force to replace it "
                            "(its CA and keys will be lost and every kit must be handed out "
                            "again), or choose another --out")
        return True
    if any(out.iterdir()):
        raise SpecError(f"{out} is not empty and holds no federation; provisioning never "
                        "writes into it, even with --force: choose a new or empty folder")
    return False


def _swap_into_place(tmp: Path, out: Path, replacing: bool) -> None:
    """Renames tmp to out; when replacing, the old out is moved aside and then deleted."""
    if not replacing:
        if out.exists():
            out.rmdir()  # Checked empty before anything was made.
        os.rename(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.absolute().parent))
    os.rename(out, old / "federation-out")
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old / "federation-out", out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _open_federation(out: Path):
    """Loads CA, admin key and verified roster from out/federation; raises CertsError."""
    fed = out / FEDERATION_DIR
    if not fed.is_dir():
        raise CertsError(f"{out} holds no federation ({fed} missing); give the folder that "
                         "was passed to `fedaudit certs provision --out`")
    try:
        ca_cert = x509.load_pem_x509_certificate((fed / "ca.crt").read_bytes())
    except (FileNotFoundError, ValueError) as exc:
        raise CertsError(f"{fed / 'ca.crt'} is missing or not a PEM certificate") from exc
    ca_key = _load_pem_private_key(fed / "ca.key")
    admin_key = _load_pem_private_key(fed / "admin.key")
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey) or \
            ca_key.public_key() != ca_cert.public_key():
        raise CertsError(f"{fed / 'ca.key'} does not belong to {fed / 'ca.crt'}")
    if not isinstance(admin_key, Ed25519PrivateKey):
        raise CertsError(f"{fed / 'admin.key'} is not an Ed25519 key")
    roster = load_roster(fed / "roster.json", public_bytes(admin_key))
    return ca_cert, ca_key, admin_key, roster


def _check_attributes(role, level, region, datasets, roles):
    """Checks the attributes a new party of this role takes; raises CertsError."""
    if role not in ("node", "issuer", "office"):
        raise CertsError(f"role must be node, issuer or office (got {role!r}); the "
                         "coordinator is made by `fedaudit certs provision` only")
    datasets, roles = list(datasets or ()), list(roles or ())
    if role == "node":
        if roles:
            raise CertsError("only issuers have roles, not a node")
        return (check_level(level, "level"), check_region(region, "region"),
                check_names(datasets, "datasets", allow_empty=True), ())
    if level is not None or region is not None or datasets:
        raise CertsError(f"only nodes have a level, a region and datasets, not a {role}")
    if role == "issuer":
        return None, None, (), check_names(roles, "roles", allow_empty=False)
    if roles:
        raise CertsError("only issuers have roles, not an office")
    return None, None, (), ()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
