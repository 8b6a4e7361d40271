"""The committed protobuf stubs match their .proto sources, and `proto` is ours."""

from __future__ import annotations

from pathlib import Path

import proto
from proto.generate import PROTO_DIR, generate


def test_proto_package_is_this_repository() -> None:
    # proto-plus also installs a top-level `proto`; it must never shadow ours.
    assert Path(proto.__file__).resolve().parent == PROTO_DIR


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    fresh = generate(tmp_path)
    assert fresh, "protoc produced no stubs"
    for path in fresh:
        committed = PROTO_DIR / path.name
        assert committed.exists(), f"{path.name} is generated but not committed: run `make proto`"
        assert committed.read_bytes() == path.read_bytes(), (
            f"proto/{path.name} drifted from its .proto source: run `make proto` and commit"
        )
    committed_names = {p.name for p in PROTO_DIR.glob("*_pb2*.py*")}
    assert committed_names == {p.name for p in fresh}, "stale stubs without a .proto source"
