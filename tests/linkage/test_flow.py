"""The linkage library end to end, in one process: envelopes, tokens, sealed attributes,
the blind join, and re-identification at the province that owns the records."""

from __future__ import annotations

import base64
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from certs import load_kit
from coordinator.linkage import REGISTRY_ATTRIBUTES, blind_join
from node.idno import check_char, sql_normalise_query
from node.taskkeys import KeyStore, draw_task_key, make_envelopes, open_envelope
from node.tokens import (
    attribute_key,
    open_attribute,
    seal_attribute,
    token_expression,
    tokenise,
)

TASK = "task-flow-1"


def make_id(seq: int) -> str:
    first17 = f"44010619{50 + seq % 40:02d}0101{seq % 1000:03d}"
    return first17 + check_char(first17)


def write_partial(path: Path, table: pa.Table) -> Path:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return path


def node_tokens(key: bytes, ids: list[str | None], extra: dict | None = None) -> pa.Table:
    """What a node's SQL would produce: tokens of its normalised, valid IDs."""
    con = duckdb.connect()
    columns = {"id_no": pa.array(ids, pa.string()), **(extra or {})}
    con.register("raw", pa.table(columns))
    con.execute("CREATE TABLE snap AS " + sql_normalise_query("raw", "id_no"))
    return tokenise(con, "snap", "id_no", key).relation.to_arrow_table()


@pytest.mark.parametrize("same_task", [True, False])
def test_paid_after_death_flow(federation, tmp_path, same_task):
    kits = {p: load_kit(federation / p) for p in ("gd", "gx", "deaths")}
    roster = kits["gd"].roster()
    # The death register originates the key and wraps it for both provinces.
    k_task = draw_task_key()
    envelopes = make_envelopes(k_task, task_id=TASK, originator_kit=kits["deaths"],
                               roster=roster, recipients=["gd", "gx", "deaths"])
    keys = {"deaths": k_task}
    for envelope in envelopes:
        node = envelope.recipient
        keys[node] = open_envelope(envelope, task_id=TASK, expected_originator="deaths",
                                   kit=kits[node], roster=roster)
        KeyStore(tmp_path / node).put(TASK, keys[node], erase_after=2_000_000_000)
    if not same_task:
        keys["gx"] = draw_task_key()  # gx tokenises under another task's key

    gd_ids = [make_id(i) for i in range(0, 30)] + ["bad-id", None]
    gx_ids = [make_id(i) for i in range(100, 120)] + [make_id(5)[:17] + "0"]
    dead = {make_id(3): "2022-11-30", make_id(7): "2023-01-31", make_id(104): "2021-06-30",
            make_id(900): "2020-01-31"}
    seal = attribute_key(keys["deaths"], TASK)
    reg_ids = list(dead)
    reg = node_tokens(keys["deaths"], reg_ids, {"death_date": pa.array(list(dead.values()))})
    reg = reg.set_column(1, "death_date", pa.array(
        [seal_attribute(seal, "death_date", d) for d in reg.column("death_date").to_pylist()]))

    coordinator = tmp_path / "coordinator"
    coordinator.mkdir()
    partials = {
        "gd": write_partial(coordinator / "gd.arrows", node_tokens(keys["gd"], gd_ids)),
        "gx": write_partial(coordinator / "gx.arrows", node_tokens(keys["gx"], gx_ids)),
        "deaths": write_partial(coordinator / "deaths.arrows", reg),
    }
    levels = {"gd": "province", "gx": "province", "deaths": "registry"}
    result = blind_join(REGISTRY_ATTRIBUTES, partials, levels, coordinator / "returns")

    # Each province re-identifies its own returned tokens and opens the death dates.
    found = {}
    for node, ids in (("gd", gd_ids), ("gx", gx_ids)):
        back = pa.ipc.open_stream(pa.memory_map(str(result.returns[node]))).read_all()
        con = duckdb.connect()
        con.register("raw", pa.table({"id_no": pa.array(ids, pa.string())}))
        con.execute("CREATE TABLE snap AS " + sql_normalise_query("raw", "id_no"))
        local = tokenise(con, "snap", "id_no", keys[node])
        con.register("local_tokens", local.relation.to_arrow_table())
        con.register("back", back)
        unknown = con.execute("SELECT count(*) FROM back ANTI JOIN local_tokens USING (token)"
                              ).fetchone()[0]
        assert unknown == 0  # every returned token is one this node submitted
        opener = attribute_key(keys[node], TASK)
        for row in back.to_pylist():
            id18 = con.execute("SELECT id_no FROM snap WHERE id_status IN ('valid', 'upgraded') "
                               f"AND {token_expression('id_no')} = $t",
                               {**local.params, "t": row["token"]}).fetchone()[0]
            found[id18] = (node, open_attribute(opener, "death_date", row["death_date"]))
    if same_task:
        assert found == {make_id(3): ("gd", "2022-11-30"), make_id(7): ("gd", "2023-01-31"),
                         make_id(104): ("gx", "2021-06-30")}
    else:
        assert found == {make_id(3): ("gd", "2022-11-30"), make_id(7): ("gd", "2023-01-31")}

    # Nothing the coordinator holds contains an ID number or the task key.
    secrets = [i.encode() for i in gd_ids + gx_ids + reg_ids if i] + [
        k_task, k_task.hex().encode(), base64.b64encode(k_task)]
    for path in coordinator.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in secrets if s in data], path
