"""The analysis library: vetted models, their manifests, digests, parameters and fixtures."""

from analyses._fixtures import FixtureResult, check_fixtures, run_fixtures
from analyses._output import Output, OutputColumn
from analyses._params import Parameter
from analyses._sql import partials_table, run_model_sql
from analyses.errors import (
    AnalysisError,
    FixtureError,
    ManifestError,
    ModelSQLError,
    ParameterError,
    UnknownAnalysis,
)
from analyses.library import Library, load_library
from analyses.manifest import Model, compute_digest, load_model

__all__ = [
    "AnalysisError",
    "FixtureError",
    "FixtureResult",
    "Library",
    "ManifestError",
    "Model",
    "ModelSQLError",
    "Output",
    "OutputColumn",
    "Parameter",
    "ParameterError",
    "UnknownAnalysis",
    "check_fixtures",
    "compute_digest",
    "load_library",
    "load_model",
    "partials_table",
    "run_fixtures",
    "run_model_sql",
]
