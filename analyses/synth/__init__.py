"""The synthetic federation generator: provinces and registries with planted anomalies.

`generate_federation` writes standard-conformant CSV files for the most populous
provinces and the national registries, a federation spec, and a `truth/` folder with
the planted cases and legitimate look-alikes of each priority model.
"""

from analyses.synth.errors import SynthError
from analyses.synth.generate import (
    DEFAULT_SCALE,
    MIN_PERSONS,
    REGISTRIES,
    FederationSummary,
    generate_federation,
    persons_for,
)

__all__ = [
    "DEFAULT_SCALE",
    "MIN_PERSONS",
    "REGISTRIES",
    "FederationSummary",
    "SynthError",
    "generate_federation",
    "persons_for",
]
