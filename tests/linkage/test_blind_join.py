"""Tests for coordinator.linkage.blind_join: examples, errors, and a property test."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator.linkage import (
    CROSS_NODE,
    REGISTRY_ATTRIBUTES,
    LinkageError,
    blind_join,
)
from coordinator.store import StoreError


def write_partial(folder: Path, node_id: str, table: pa.Table) -> Path:
    """Writes table as the node's partial: an Arrow IPC stream, as the coordinator stores it."""
    path = folder / f"{node_id}.partial.arrows"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return path


def read(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_stream(source).read_all()


def tokens(*names: str) -> pa.Table:
    return pa.table({"token": pa.array(list(names), pa.string())})


def summary_of(result) -> dict[str, tuple[str, int, int]]:
    rows = result.summary.to_pylist()
    return {r["node_id"]: (r["level"], r["tokens_submitted"], r["matched"]) for r in rows}


def test_registry_attributes_returns_each_province_its_own_matches(tmp_path):
    deaths = pa.table({"token": ["t1", "t2", "t3", "t9"],
                       "death_date": ["sealed-1", "sealed-2", "sealed-3", "sealed-9"]})
    partials = {
        "gd": write_partial(tmp_path, "gd", tokens("t1", "t2", "d-gd-1", "d-gd-2")),
        "gx": write_partial(tmp_path, "gx", tokens("t3", "t4", "d-gx-1")),
        "hn": write_partial(tmp_path, "hn", tokens("t5")),
        "deaths": write_partial(tmp_path, "deaths", deaths),
    }
    levels = {"gd": "province", "gx": "province", "hn": "province", "deaths": "registry"}
    result = blind_join(REGISTRY_ATTRIBUTES, partials, levels, tmp_path / "returns")

    assert sorted(result.returns) == ["gd", "gx", "hn"]  # the registry gets nothing back
    assert read(result.returns["gd"]).to_pylist() == [
        {"token": "t1", "death_date": "sealed-1"}, {"token": "t2", "death_date": "sealed-2"}]
    assert read(result.returns["gx"]).to_pylist() == [{"token": "t3", "death_date": "sealed-3"}]
    empty = read(result.returns["hn"])
    assert empty.num_rows == 0 and empty.column_names == ["token", "death_date"]
    assert summary_of(result) == {"deaths": ("registry", 4, 3), "gd": ("province", 4, 2),
                                  "gx": ("province", 3, 1), "hn": ("province", 1, 0)}
    assert result.returns["gd"] == tmp_path / "returns" / "gd.arrows"
    assert not [p for p in (tmp_path / "returns").iterdir() if p.name.startswith(".")]


def test_registry_attributes_keep_their_types_and_every_registry_row(tmp_path):
    import datetime as dt
    deaths = pa.table({"token": ["t1", "t1"],
                       "death_date": pa.array([dt.date(2023, 4, 30), dt.date(2023, 5, 2)]),
                       "source": ["hospital", "police"]})
    partials = {"gd": write_partial(tmp_path, "gd", tokens("t1", "t1", "t2")),
                "deaths": write_partial(tmp_path, "deaths", deaths)}
    result = blind_join(REGISTRY_ATTRIBUTES, partials,
                        {"gd": "province", "deaths": "registry"}, tmp_path / "out")
    back = read(result.returns["gd"])
    assert back.schema.field("death_date").type == pa.date32()
    assert back.to_pylist() == [
        {"token": "t1", "death_date": dt.date(2023, 4, 30), "source": "hospital"},
        {"token": "t1", "death_date": dt.date(2023, 5, 2), "source": "police"}]
    assert summary_of(result)["gd"] == ("province", 3, 1)


def test_cross_node_returns_own_matches_with_how_many_others_hold_them(tmp_path):
    partials = {
        "gd": write_partial(tmp_path, "gd", tokens("a", "b", "c", "c")),
        "gx": write_partial(tmp_path, "gx", tokens("a", "b", "x")),
        "hn": write_partial(tmp_path, "hn", tokens("a", "y", None)),
        "sc": write_partial(tmp_path, "sc", tokens(None, "z")),
    }
    levels = dict.fromkeys(partials, "province")
    result = blind_join(CROSS_NODE, partials, levels, tmp_path / "out")
    assert read(result.returns["gd"]).to_pylist() == [
        {"token": "a", "other_nodes": 2}, {"token": "b", "other_nodes": 1}]
    assert read(result.returns["gx"]).to_pylist() == [
        {"token": "a", "other_nodes": 2}, {"token": "b", "other_nodes": 1}]
    assert read(result.returns["hn"]).to_pylist() == [{"token": "a", "other_nodes": 2}]
    assert read(result.returns["sc"]).num_rows == 0  # a NULL token never matches
    assert read(result.returns["sc"]).schema.field("other_nodes").type == pa.int32()
    assert summary_of(result) == {"gd": ("province", 4, 2), "gx": ("province", 3, 2),
                                  "hn": ("province", 3, 1), "sc": ("province", 2, 0)}


def test_cross_node_returns_no_other_column_of_any_node(tmp_path):
    gd = pa.table({"token": ["a"], "amount": ["sealed-gd"]})
    gx = pa.table({"token": ["a"], "amount": ["sealed-gx"]})
    partials = {"gd": write_partial(tmp_path, "gd", gd), "gx": write_partial(tmp_path, "gx", gx)}
    result = blind_join(CROSS_NODE, partials, {"gd": "province", "gx": "province"},
                        tmp_path / "out")
    for node in ("gd", "gx"):
        assert read(result.returns[node]).column_names == ["token", "other_nodes"]
        assert b"sealed-" not in result.returns[node].read_bytes()


def test_errors_name_what_to_fix(tmp_path):
    good = write_partial(tmp_path, "gd", tokens("a"))
    reg = write_partial(tmp_path, "deaths", pa.table({"token": ["a"], "d": ["x"]}))
    reg2 = write_partial(tmp_path, "deaths2", pa.table({"token": ["a"], "e": [1]}))
    no_token = write_partial(tmp_path, "gx", pa.table({"id": ["a"]}))
    dup = write_partial(tmp_path, "dup", pa.Table.from_arrays([pa.array(["a"])] * 2,
                                                             names=["token", "token"]))
    reserved = write_partial(tmp_path, "reserved", pa.table({"token": ["a"], "_fa_node": [1]}))
    out = tmp_path / "out"
    cases = [
        (("l3", {"gd": good}, {"gd": "province"}), "unknown linkage pattern"),
        ((CROSS_NODE, {}, {}), "no node returned a partial"),
        ((CROSS_NODE, {"gd": good}, {}), "level of node gd is not known"),
        ((CROSS_NODE, {"../gd": good}, {"../gd": "province"}), "not a node id"),
        ((CROSS_NODE, {"gx": no_token}, {"gx": "province"}), "no token text column"),
        ((CROSS_NODE, {"gx": dup}, {"gx": "province"}), "repeats a column name"),
        ((CROSS_NODE, {"gx": reserved}, {"gx": "province"}), "starting with _fa_"),
        ((CROSS_NODE, {"gx": tmp_path / "missing"}, {"gx": "province"}), "cannot be read"),
        ((REGISTRY_ATTRIBUTES, {"gd": good}, {"gd": "province"}), "at least one registry"),
        ((REGISTRY_ATTRIBUTES, {"deaths": reg}, {"deaths": "registry"}),
         "at least one non-registry"),
        ((REGISTRY_ATTRIBUTES, {"gd": good, "deaths": reg, "deaths2": reg2},
          {"gd": "province", "deaths": "registry", "deaths2": "registry"}), "share one schema"),
    ]
    for args, message in cases:
        with pytest.raises(LinkageError, match=message):
            blind_join(*args, out)
    assert issubclass(LinkageError, StoreError)


# The property: a node's return holds only tokens it submitted, and equals a plain-Python
# recomputation of the join.

TOKENS = st.one_of(st.none(), st.sampled_from([f"tok-{i}" for i in range(12)]),
                   st.text(alphabet="0123456789abcdef", min_size=1, max_size=4))
NODES = st.dictionaries(
    keys=st.sampled_from(["gd", "gx", "hn", "sc", "reg-a", "reg-b"]),
    values=st.lists(TOKENS, max_size=15),
    min_size=1, max_size=6,
)


def expected_cross_node(submitted: dict[str, list]) -> dict[str, list[dict]]:
    holders = Counter(t for tokens in submitted.values() for t in set(tokens) if t is not None)
    return {node: [{"token": t, "other_nodes": holders[t] - 1}
                   for t in sorted({t for t in tokens if t is not None}) if holders[t] > 1]
            for node, tokens in submitted.items()}


def expected_registry(submitted: dict[str, list], levels: dict[str, str]) -> dict[str, list]:
    registry_rows = [(t, f"{node}:{i}") for node, tokens in submitted.items()
                     if levels[node] == "registry" for i, t in enumerate(tokens) if t is not None]
    out = {}
    for node, tokens in submitted.items():
        if levels[node] == "registry":
            continue
        own = {t for t in tokens if t is not None}
        out[node] = sorted(({"token": t, "attr": a} for t, a in registry_rows if t in own),
                           key=lambda r: (r["token"], r["attr"]))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(submitted=NODES, pattern=st.sampled_from([CROSS_NODE, REGISTRY_ATTRIBUTES]))
def test_returns_are_own_tokens_and_equal_a_plain_recomputation(submitted, pattern):
    levels = {n: "registry" if n.startswith("reg") else "province" for n in submitted}
    if pattern == REGISTRY_ATTRIBUTES and len(set(levels.values())) < 2:
        levels = dict.fromkeys(submitted, "province")
        pattern = CROSS_NODE
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        partials = {}
        for node, toks in submitted.items():
            columns = {"token": pa.array(toks, pa.string())}
            if levels[node] == "registry" or pattern == CROSS_NODE:
                columns["attr"] = pa.array([f"{node}:{i}" for i in range(len(toks))], pa.string())
            partials[node] = write_partial(folder, node, pa.table(columns))
        result = blind_join(pattern, partials, levels, folder / "out")
        got = {node: read(path).to_pylist() for node, path in result.returns.items()}

    for node, rows in got.items():
        assert {r["token"] for r in rows} <= set(submitted[node])
    if pattern == CROSS_NODE:
        assert got == expected_cross_node(submitted)
    else:
        assert got == expected_registry(submitted, levels)
    matched = {r["node_id"]: r["matched"] for r in result.summary.to_pylist()}
    sizes = {r["node_id"]: r["tokens_submitted"] for r in result.summary.to_pylist()}
    assert sizes == {n: len(t) for n, t in submitted.items()}
    for node, rows in got.items():
        assert matched[node] == len({r["token"] for r in rows})


def test_local_returns_each_node_its_whole_own_set_and_matches_nothing(tmp_path):
    from coordinator.linkage import LOCAL

    partials = {"gd": write_partial(tmp_path, "gd", tokens("t1", "t2", "d1")),
                "gx": write_partial(tmp_path, "gx", tokens("t1", "t3"))}
    result = blind_join(LOCAL, partials, {"gd": "province", "gx": "province"},
                        tmp_path / "returns")
    assert sorted(read(result.returns["gd"]).column("token").to_pylist()) == ["d1", "t1", "t2"]
    assert sorted(read(result.returns["gx"]).column("token").to_pylist()) == ["t1", "t3"]
    assert summary_of(result) == {"gd": ("province", 3, None), "gx": ("province", 2, None)}


def sided(*rows: tuple[str, str]) -> pa.Table:
    return pa.table({"token": pa.array([t for t, _ in rows], pa.string()),
                     "side": pa.array([s for _, s in rows], pa.string())})


def test_presence_returns_probes_another_node_holds_as_present(tmp_path):
    partials = {
        # p1 is present at gx: it comes back to gd. p2 is a probe at gx too, present nowhere.
        "gd": write_partial(tmp_path, "gd", sided(("p1", "probe"), ("p2", "probe"),
                                                  ("e1", "present"), ("d-gd", "probe"))),
        # e1 is a probe here and present at gd; p3 is present only here, at the same node.
        "gx": write_partial(tmp_path, "gx", sided(("p1", "present"), ("p2", "probe"),
                                                  ("e1", "probe"), ("p3", "probe"),
                                                  ("p3", "present"))),
        "hn": write_partial(tmp_path, "hn", sided(("e1", "present"), ("d-hn", "present"))),
    }
    levels = dict.fromkeys(partials, "province")
    result = blind_join("presence", partials, levels, tmp_path / "returns")
    got = {node: read(path).to_pylist() for node, path in result.returns.items()}
    assert got == {"gd": [{"token": "p1"}], "gx": [{"token": "e1"}], "hn": []}
    assert summary_of(result) == {"gd": ("province", 4, 1), "gx": ("province", 5, 1),
                                  "hn": ("province", 2, 0)}


def test_presence_needs_a_side_column(tmp_path):
    partials = {"gd": write_partial(tmp_path, "gd", tokens("t1")),
                "gx": write_partial(tmp_path, "gx", tokens("t1"))}
    with pytest.raises(LinkageError, match="side"):
        blind_join("presence", partials, dict.fromkeys(partials, "province"), tmp_path / "r")
