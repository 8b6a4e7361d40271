"""Task keys of linkage tasks: drawing, wrapping for the other targets, opening, and keeping them.

The originator node named in the signed task draws ``K_task`` and wraps it with HPKE for
every other target (`certs.hpke.wrap_key`, which also signs the envelope). A receiving
node trusts an envelope only after checking, against its own verified roster, that it
names this task, this node and the originator the task names, and that the originator's
roster Ed25519 key signed it. Keys rest in ``HOME/keys/<task_id>.json`` (0600, folder
0700) until their verification period ends; erasure overwrites the file before removing
it and leaves a tombstone, so a replayed envelope cannot bring the key back.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import tempfile
import time
from pathlib import Path

from certs.errors import BadSignature, CertsError
from certs.hpke import KEY_LENGTH, WrappedKey, unwrap_key, wrap_key
from certs.kit import Kit
from certs.roster import Roster
from node.durable import fsync_dir
from node.errors import NodeError

__all__ = [
    "KEYS_DIR",
    "KeyEnvelopeError",
    "KeyStore",
    "draw_task_key",
    "make_envelopes",
    "open_envelope",
]

#: The folder under the node home that holds task keys.
KEYS_DIR = "keys"
_KEY_SUFFIX = ".json"
_TOMBSTONE_SUFFIX = ".erased"
#: Task ids become file names, so they may hold no separator and start with no dot.
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: A temporary file left by a crash during `put` is erased once it is this old (seconds),
#: so a write in progress is never removed under its writer.
_STALE_TEMP_SECONDS = 60


class KeyEnvelopeError(NodeError):
    """A task key that cannot be made, trusted, opened or found; the message names the check."""


def draw_task_key() -> bytes:
    """32 random bytes from the operating system's CSPRNG: a fresh K_task."""
    return secrets.token_bytes(KEY_LENGTH)


def _node(roster: Roster, party_id: str, what: str):
    party = roster.party(party_id)
    if party is None or party.role != "node":
        raise KeyEnvelopeError(f"{what} {party_id!r} is not a node of the roster (version "
                               f"{roster.version}); check the task's targets, or fetch the "
                               "current roster from the federation admin")
    return party


def make_envelopes(key: bytes, *, task_id: str, originator_kit: Kit, roster: Roster,
                   recipients: list[str]) -> list[WrappedKey]:
    """Wraps key for every recipient except the originator itself, each signed by it.

    Each recipient's X25519 key comes from the roster. Before wrapping, the originator's
    own signing key is checked against its roster entry, so envelopes that no recipient
    could verify are never sent. Raises KeyEnvelopeError if the originator kit is not a
    node kit of the roster or its key differs from the roster's, a recipient is not a
    node of the roster or is named twice, or the key or task id is malformed.
    """
    originator = originator_kit.party_id
    entry = _node(roster, originator, "the key originator")
    try:
        signing_key = originator_kit.signing_key()
    except CertsError as exc:
        raise KeyEnvelopeError(f"the key originator's kit cannot sign: {exc}") from exc
    public = signing_key.public_key().public_bytes_raw()
    if public != entry.ed25519:
        raise KeyEnvelopeError(f"the signing key of kit {originator_kit.path} is not the "
                               f"Ed25519 key the roster lists for {originator}; install the "
                               "kit issued with this roster")
    if len(set(recipients)) != len(recipients):
        raise KeyEnvelopeError("a recipient is named twice; list each target node once")
    envelopes = []
    for recipient in recipients:
        if recipient == originator:
            continue
        party = _node(roster, recipient, "the recipient")
        try:
            envelopes.append(wrap_key(key, task_id=task_id, sender_id=originator,
                                      recipient_id=recipient, recipient_public=party.x25519,
                                      sender_signing_key=signing_key))
        except CertsError as exc:
            raise KeyEnvelopeError(f"cannot wrap the task key for {recipient}: {exc}") from exc
    return envelopes


def open_envelope(envelope: WrappedKey, *, task_id: str, expected_originator: str, kit: Kit,
                  roster: Roster) -> bytes:
    """Verifies an envelope against the roster and opens it with this node's X25519 key.

    expected_originator is the key originator the signed task names; roster is this
    node's own verified roster, never one the coordinator sent. Returns K_task. Raises
    KeyEnvelopeError, naming the check that failed, if the envelope names another task,
    recipient or originator, is unsigned, comes from a party that is not a node of the
    roster, carries a signature that does not verify (any byte changed), or does not open
    with this node's key.
    """
    if not isinstance(envelope, WrappedKey):
        raise KeyEnvelopeError("the key envelope is not a wrapped key; it was corrupted on "
                               "the way")
    checks = (("task", envelope.task_id, task_id),
              ("recipient", envelope.recipient, kit.party_id),
              ("originator", envelope.sender, expected_originator))
    for label, got, expected in checks:
        if got != expected:
            raise KeyEnvelopeError(f"{label} check failed: the key envelope names {label} "
                                   f"{got!r}, but {expected!r} was expected; refused")
    if not envelope.signature:
        raise KeyEnvelopeError(f"signature check failed: the key envelope of task {task_id} is "
                               "unsigned; refused")
    party = _node(roster, expected_originator, "originator check failed: the key originator")
    try:
        private = kit.x25519_key()
    except CertsError as exc:
        raise KeyEnvelopeError(f"this node cannot open key envelopes: {exc}") from exc
    try:
        return unwrap_key(envelope, task_id=task_id, sender_id=expected_originator,
                          recipient_id=kit.party_id, sender_public=party.ed25519,
                          recipient_private=private)
    except BadSignature as exc:
        raise KeyEnvelopeError(f"signature check failed: the key envelope of task {task_id} "
                               f"is not signed by {expected_originator}'s roster key, or was "
                               "changed on the way; refused") from exc
    except CertsError as exc:
        raise KeyEnvelopeError(f"unwrap check failed: {exc}; refused") from exc


class KeyStore:
    """The task keys a node holds, one file each under ``HOME/keys``, until erased."""

    def __init__(self, home_path: str | os.PathLike[str]) -> None:
        self.folder = Path(home_path) / KEYS_DIR

    def _path(self, task_id: str, suffix: str = _KEY_SUFFIX) -> Path:
        if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
            raise KeyEnvelopeError(f"task id {task_id!r} cannot name a key file")
        return self.folder / f"{task_id}{suffix}"

    def _open_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)

    def put(self, task_id: str, key: bytes, erase_after: float) -> None:
        """Keeps key for task_id until erase_after (unix time), written atomically, mode 0600.

        Putting the same key again does nothing. Raises KeyEnvelopeError if the key is
        not 32 bytes, the task already has a different key, or its key was erased (a
        replayed envelope must not bring it back); OSError if the folder is not writable.
        """
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_LENGTH:
            raise KeyEnvelopeError(f"a task key must be {KEY_LENGTH} bytes")
        path = self._path(task_id)
        if self._path(task_id, _TOMBSTONE_SUFFIX).exists():
            raise KeyEnvelopeError(f"the key of task {task_id} was erased when its verification "
                                   "period ended; it cannot be stored again")
        if path.exists():
            if self._read(task_id, path)[0] != bytes(key):
                raise KeyEnvelopeError(f"task {task_id} already has a different key; a second "
                                       "envelope with another key is refused")
            return
        self._open_folder()
        record = {"task_id": task_id, "key": base64.b64encode(bytes(key)).decode("ascii"),
                  "erase_after": float(erase_after)}
        _write_secret(path, json.dumps(record).encode("ascii"))

    def get(self, task_id: str, *, now: float | None = None) -> bytes:
        """The key of task_id. A key whose erase_after has passed (at now, by default the
        current time) is erased and refused.

        Raises KeyEnvelopeError if the node never received the key, it was erased, it
        has expired, or its file is unreadable.
        """
        path = self._path(task_id)
        if not path.exists():
            if self._path(task_id, _TOMBSTONE_SUFFIX).exists():
                raise KeyEnvelopeError(f"the key of task {task_id} was erased when its "
                                       "verification period ended; the task's tokens can no "
                                       "longer be re-identified")
            raise KeyEnvelopeError(f"this node holds no key for task {task_id}; it arrives "
                                   "with the task's key envelope from the key originator")
        key, erase_after = self._read(task_id, path)
        if erase_after <= (time.time() if now is None else now):
            self.erase(task_id)
            raise KeyEnvelopeError(f"the key of task {task_id} expired with its verification "
                                   "period and has now been erased")
        return key

    def erase(self, task_id: str) -> None:
        """Overwrites the key file of task_id, removes it, and leaves a tombstone.

        Erasing a key the node never held only leaves the tombstone. Raises
        KeyEnvelopeError for a task id that cannot name a file; OSError if the folder
        is not writable.
        """
        path = self._path(task_id)
        self._open_folder()
        tombstone = self._path(task_id, _TOMBSTONE_SUFFIX)
        if not tombstone.exists():
            record = {"task_id": task_id, "erased_at": time.time()}
            _write_secret(tombstone, json.dumps(record).encode("ascii"))
        _shred(path)

    def erase_expired(self, now: float) -> list[str]:
        """Erases every key whose erase_after is at or before now; returns their task ids.

        A key file that cannot be read is erased too (an unreadable key is useless and
        may still be secret), and so are temporary files left by an interrupted `put`.
        Raises OSError if the folder is not writable.
        """
        if not self.folder.is_dir():
            return []
        erased = []
        for path in sorted(self.folder.glob(f"*{_KEY_SUFFIX}")):
            task_id = path.name[: -len(_KEY_SUFFIX)]
            if not _TASK_ID.fullmatch(task_id):
                continue
            try:
                _, erase_after = self._read(task_id, path)
            except KeyEnvelopeError:
                erase_after = float("-inf")
            if erase_after <= now:
                self.erase(task_id)
                erased.append(task_id)
        for temp in self.folder.glob(".*.tmp"):
            try:
                stale = temp.stat().st_mtime <= time.time() - _STALE_TEMP_SECONDS
            except FileNotFoundError:
                continue
            if stale:
                _shred(temp)
        return erased

    def _read(self, task_id: str, path: Path) -> tuple[bytes, float]:
        try:
            record = json.loads(path.read_text(encoding="ascii"))
            key = base64.b64decode(record["key"], validate=True)
            erase_after = float(record["erase_after"])
        except FileNotFoundError as exc:
            raise KeyEnvelopeError(f"this node holds no key for task {task_id}") from exc
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError,
                binascii.Error) as exc:
            raise KeyEnvelopeError(f"the key file of task {task_id} ({path}) is unreadable; "
                                   "ask the key originator to send the envelope again") from exc
        if record.get("task_id") != task_id or len(key) != KEY_LENGTH:
            raise KeyEnvelopeError(f"the key file {path} does not hold a key of task {task_id}")
        return key, erase_after


def _write_secret(path: Path, data: bytes) -> None:
    """Writes data to path atomically, readable by the owner only from the first byte."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        _shred(Path(name))
        raise
    fsync_dir(path.parent)


def _shred(path: Path) -> None:
    """Overwrites a file with zeros, syncs it, and unlinks it; a missing file is no error."""
    try:
        with open(path, "r+b") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.write(b"\x00" * size)
            handle.flush()
            os.fsync(handle.fileno())
    except FileNotFoundError:
        return
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
