"""The local pension models PEN-04, PEN-05 and PEN-06, and tmp copies of models to break."""

from __future__ import annotations

from tests.model_support import copy_model_fixture

#: The models of this folder, by id (their truth files are named by their method codes).
PENSION_MODELS = ("pension.dual_scheme", "pension.payroll_staff_resident_pension",
                  "pension.early_retirement")

copy_model = copy_model_fixture()
