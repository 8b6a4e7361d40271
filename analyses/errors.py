"""Errors raised by the analysis library, grouped by fault; each message says what to fix."""

from __future__ import annotations


class AnalysisError(Exception):
    """A problem with an analysis that its author or user can fix; the message says how."""


class ManifestError(AnalysisError):
    """A model folder whose manifest or SQL files are invalid; the message names file and key."""


class ParameterError(AnalysisError):
    """Parameter values that break a model's declared rules; the message names the parameter."""


class UnknownAnalysis(AnalysisError):
    """An analysis id that is not in the library."""


class ModelSQLError(AnalysisError):
    """A model's SQL that DuckDB refused or that failed while running."""


class FixtureError(AnalysisError):
    """A model's fixtures are missing, unreadable, or disagree with what its SQL returns."""
