"""The linkage models of issue #6, and tmp copies of library models to break."""

from __future__ import annotations

from tests.model_support import copy_model_fixture

#: The linkage models of issue #6, by id.
LINKAGE_MODELS = ("pension.paid_after_death", "pension.cross_province_duplicate",
                  "medical.settlement_after_death")

copy_model = copy_model_fixture()
