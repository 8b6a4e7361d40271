"""The coordinator's access log: every read of a result, and every sharing decision.

It is the node's hash-chained audit log (``node.audit_log.AuditLog``: same line format,
same head file, same ``verify``) kept at ``HOME/access.log`` of the coordinator home.
A read appends ``result.read`` (who, role, task id, the grant it used or ``owner`` /
``issuer``, rows returned, the regions and parts released) before the first row leaves;
a refused read appends ``result.refused``. Grants, revocations, classifications and
re-share requests are logged too. If the log cannot be appended to, the read is refused:
nothing is released that the log does not show. An append checks the end of the chain;
the coordinator also verifies the whole chain when it opens the log, so a line edited
anywhere stops every read until an operator has looked at it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from coordinator.errors import CoordinatorError
from node.audit_log import AuditLog, AuditLogBroken

__all__ = ["ACCESS_LOG", "AccessLog"]

#: The access log's file name inside the coordinator home.
ACCESS_LOG = "access.log"


class AccessLog:
    """The access log of the coordinator home at ``home``."""

    def __init__(self, home: str | os.PathLike, *, verify: bool = False) -> None:
        """Opens the log; with ``verify`` the whole chain is checked now, and a broken
        chain makes every later ``record`` refuse."""
        self.home = Path(home)
        self.log = AuditLog(self.home / ACCESS_LOG)
        self._broken: AuditLogBroken | None = None
        if verify:
            try:
                self.log.verify()
            except AuditLogBroken as exc:
                self._broken = exc

    @property
    def path(self) -> Path:
        """The log file."""
        return self.log.path

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        """Appends one entry, synced to disk, and returns it.

        Raises CoordinatorError (NOT_READY) if the log's chain is damaged, so the caller
        refuses what it was about to do; ValueError or TypeError for bad fields.
        """
        try:
            if self._broken is not None:
                raise self._broken
            return self.log.append(event, **fields)
        except AuditLogBroken as exc:
            raise CoordinatorError(
                f"the coordinator's access log is damaged ({exc}); nothing is released until "
                f"an operator has checked it with `fedaudit coordinator access-log verify "
                f"--home {self.home}`, moved {ACCESS_LOG} and its .head file aside as "
                "evidence, and restarted the coordinator", "NOT_READY") from exc
        except OSError as exc:
            raise CoordinatorError(f"the access log {self.path} cannot be written ({exc})",
                                   "NOT_READY") from exc
