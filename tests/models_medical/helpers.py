"""Shared helpers for the MED-02 and MED-04 model tests: the models and their fixture runs."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from analyses import load_model
from analyses._fixtures import (
    FIXTURE_KEY,
    fixture_inputs,
    fixture_nodes,
    fixture_parameters,
    run_linkage_sql,
)
from analyses._fixtures_linkage import token_dictionary
from analyses.library import DEFAULT_ROOT

#: The models of this task, by id.
MEDICAL_MODELS = ("medical.overlapping_stays", "medical.overlapping_stays_cross_province",
                  "medical.split_hospitalisation")


def model_folder(model_id: str):
    area, name = model_id.split(".")
    return DEFAULT_ROOT / area / name


def load(model_id: str):
    return load_model(model_folder(model_id))


def flagged_ids(model, params: Mapping[str, object] | None = None,
                node: str = "province") -> set[str]:
    """The ID numbers whose tokens the node SQL of `node`'s fixtures returns, under the
    fixture parameters overridden by `params`."""
    level = fixture_nodes(model)[node]
    inputs = fixture_inputs(model, level, node)
    values = dict(fixture_parameters(model)) | dict(params or {})
    table, _ = run_linkage_sql(model.node_sql[level], inputs, model.bind_parameters(values),
                               FIXTURE_KEY)
    dictionary = token_dictionary([inputs], FIXTURE_KEY)
    return {dictionary[t] for t in table.column("token").to_pylist()}


def column(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist()
