"""The models of the MED-02 and MED-04 tests."""

from __future__ import annotations

#: The models of this folder, by id.
MEDICAL_MODELS = ("medical.overlapping_stays", "medical.overlapping_stays_cross_province",
                  "medical.split_hospitalisation")
