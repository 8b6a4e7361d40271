"""Atomic, permission-aware file writes shared by the provisioning code."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: Private keys: readable and writable by the owner only.
SECRET_MODE = 0o600
#: Certificates, rosters and kit descriptions: not secret.
PUBLIC_MODE = 0o644
#: Folders that hold private keys.
PRIVATE_DIR_MODE = 0o700


def write_file(path: str | os.PathLike, data: bytes | str, mode: int = PUBLIC_MODE) -> Path:
    """Writes data to path atomically with the given permission bits.

    The bytes go to a temporary file in the same folder, are flushed to disk, get their
    mode, and only then replace path, so a reader never sees a half-written file and a
    secret is never readable by others, not even for a moment. Raises OSError.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return path


def make_private_dir(path: str | os.PathLike) -> Path:
    """Creates path (and missing parents) and sets it to 0700; raises OSError."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR_MODE)
    return path
