"""The error type of the synthetic federation generator."""

from __future__ import annotations

from analyses.errors import AnalysisError

__all__ = ["SynthError"]


class SynthError(AnalysisError):
    """A generator request the user can fix: a bad option, or an output folder in the way.

    The message says what to do next; the `fedaudit` command prints it as
    `error: ...` and exits with status 1.
    """
