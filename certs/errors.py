"""The errors of the `certs` package, grouped by fault; each message says what to do next."""

from __future__ import annotations

__all__ = ["BadSignature", "CertsError", "RosterError", "SpecError", "UnwrapError"]


class CertsError(Exception):
    """A problem the user can fix: a missing file, a bad spec, a kit of the wrong role.

    The message names the file or key at fault and says what to do next; the
    `fedaudit` command prints it as `error: ...` and exits with status 1.
    """


class BadSignature(CertsError):
    """An Ed25519 signature does not verify: wrong key, changed bytes, or malformed input."""


class RosterError(CertsError):
    """A roster file is malformed, signed by another key, or its signature does not verify."""


class UnwrapError(CertsError):
    """A wrapped task key cannot be opened: it names another task, sender or recipient,
    was wrapped for another key, or was changed on the way."""


class SpecError(CertsError):
    """A federation spec (spec.toml) is invalid, or provisioning would overwrite a federation."""
