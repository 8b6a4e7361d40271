"""The federation PKI: CA, certificates, signing, roster, kits, mTLS and task-key wrapping."""

from certs._files import write_file
from certs.ca import ROLES, fingerprint, load_certificate, peer_identity
from certs.errors import BadSignature, CertsError, RosterError, SpecError, UnwrapError
from certs.hpke import WrappedKey, unwrap_key, wrap_key
from certs.kit import Kit, install_kit, load_kit
from certs.provision import IssueResult, ProvisionResult, issue_party, provision
from certs.roster import Party, Roster, load_roster, sign_roster
from certs.signing import (
    key_id,
    load_private_key,
    load_public_key,
    public_bytes,
    save_private_key,
    sign,
    verify_signature,
)
from certs.spec import FederationSpec, load_spec
from certs.tls import channel_credentials, server_credentials

__all__ = [
    "ROLES",
    "BadSignature",
    "CertsError",
    "FederationSpec",
    "IssueResult",
    "Kit",
    "Party",
    "ProvisionResult",
    "Roster",
    "RosterError",
    "SpecError",
    "UnwrapError",
    "WrappedKey",
    "channel_credentials",
    "fingerprint",
    "issue_party",
    "key_id",
    "load_certificate",
    "install_kit",
    "load_kit",
    "load_private_key",
    "load_public_key",
    "load_roster",
    "load_spec",
    "peer_identity",
    "provision",
    "public_bytes",
    "save_private_key",
    "server_credentials",
    "sign",
    "sign_roster",
    "unwrap_key",
    "verify_signature",
    "write_file",
    "wrap_key",
]
