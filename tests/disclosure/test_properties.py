"""Properties over random outputs: no local-only column and no unpadded token set ever leaves."""

from __future__ import annotations

import dataclasses
import hashlib
from decimal import Decimal

import pyarrow as pa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analyses._output import Output, OutputColumn
from analyses.datasets import load_all
from node.disclosure import MARKER_COLUMN, DisclosureError, apply_disclosure
from node.policy import DisclosurePolicy

from ._tables import month

#: Every local-only column of every standard: none may ever appear in an output.
LOCAL_ONLY = sorted({c for s in load_all().values() for c in s.local_only_columns})
TOKENS = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(40)]

extra_names = st.lists(
    st.sampled_from(LOCAL_ONLY) | st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True),
    max_size=3, unique=True)
texts = st.text(max_size=80)


def _column(name: str, values: list) -> pa.Array:
    types = {"persons": pa.int64(), "payments": pa.int64(), "period": pa.date32(),
             "death_date": pa.date32()}
    if name == "amount":
        return pa.array([Decimal(v) for v in values], pa.decimal128(38, 2))
    return pa.array(values, types.get(name, pa.string()))


@st.composite
def outputs(draw):
    """(model name, table, leaky?) with random extra columns, some named like local-only ones."""
    name = draw(st.sampled_from(["summary", "by_scheme", "by_region", "deaths", "flags"]))
    leaky = draw(st.booleans()) and draw(st.booleans())
    n = draw(st.integers(0, 25))
    if name in ("deaths", "flags"):
        tokens = draw(st.lists(st.sampled_from(TOKENS), min_size=n, max_size=n))
        columns = {"token": tokens}
        if name == "deaths":
            # One date per token, so duplicates are exact repeats.
            columns["death_date"] = [month(TOKENS.index(t)) for t in tokens]
        else:
            columns["amount"] = draw(st.lists(st.integers(0, 999), min_size=n, max_size=n))
    else:
        counts = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
        columns = {"persons": counts,
                   "amount": draw(st.lists(st.integers(0, 999), min_size=n, max_size=n))}
        if name == "summary":
            columns["scheme_code"] = [f"S{i % 3}" for i in range(n)]
            columns["period"] = [month(i // 3) for i in range(n)]
            columns["payments"] = counts
        elif name == "by_scheme":
            columns["scheme_code"] = [f"S{i}" for i in range(n)]
        else:
            columns["pool_admdvs"] = [f"44{i:02d}00" for i in range(n)]
    table = pa.table({k: _column(k, v) for k, v in columns.items()})
    for extra in draw(extra_names):
        if extra not in table.column_names:
            table = table.append_column(extra, pa.array(
                draw(st.lists(texts, min_size=n, max_size=n)), pa.string()))
    return name, table, leaky


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=outputs(), bucket=st.integers(1, 40), zeros=st.sampled_from(["allowed", "disclosive"]))
def test_no_local_only_column_and_no_unpadded_token_set_ever_leaves(models, case, bucket, zeros):
    name, table, leaky = case
    model = models[name]
    if leaky:
        # A model whose declaration slipped past the loader with a local-only column.
        column = OutputColumn("id_no", "VARCHAR", "attribute" if model.kind != "aggregate"
                              else "dimension", "The ID number.")
        model = dataclasses.replace(model, output=Output(model.kind,
                                                         (*model.output.columns, column)))
        if "id_no" not in table.column_names:
            table = table.append_column("id_no", pa.array(["x"] * table.num_rows, pa.string()))
    policy = dataclasses.replace(DisclosurePolicy(), token_bucket=bucket, zeros=zeros)
    try:
        disclosed = apply_disclosure(model, table, policy)
    except DisclosureError as refusal:
        event(f"{model.kind} refused: {refusal.code}")
        assert refusal.public  # a refusal always says why
        assert not leaky or refusal.code == "LOCAL_ONLY_COLUMN"
        return
    event(f"{model.kind} released")
    assert not leaky, "a local-only column was released"
    out = disclosed.table
    assert not set(out.column_names) & set(LOCAL_ONLY)
    declared = list(model.output.names)
    if model.kind == "aggregate":
        assert out.column_names == [*declared, MARKER_COLUMN]
        assert out.num_rows == table.num_rows
    else:
        assert out.column_names == declared
        assert out.num_rows % bucket == 0 and out.num_rows >= bucket
        assert disclosed.public_summary["public"] == {"rows": out.num_rows, "bucket": bucket}
        assert "local" not in disclosed.public_summary
        if model.kind == "tokens":
            assert len(set(out.column("token").to_pylist())) == out.num_rows
