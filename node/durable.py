"""Durability helpers: flush a file or a folder's entries to disk before relying on them.

Shared by the node's catalog, audit log and key store, and by the coordinator's result
files, so every "write, fsync, rename, fsync the folder" sequence uses the same calls.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_file(path: Path) -> None:
    """Flushes a file's content to disk; raises OSError."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Makes a rename or unlink inside the folder durable; raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
