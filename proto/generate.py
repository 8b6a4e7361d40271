"""Regenerates the committed protobuf stubs in proto/ from proto/*.proto (`make proto`)."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTO_DIR = Path(__file__).resolve().parent


def generate(out_dir: Path, repo_root: Path = PROTO_DIR.parent) -> list[Path]:
    """Writes the *_pb2.py, *_pb2_grpc.py and *.pyi stubs under out_dir/proto.

    Raises RuntimeError when protoc fails.
    """
    sources = sorted(p.relative_to(repo_root).as_posix() for p in PROTO_DIR.glob("*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    # mypy-protobuf's plugin sits beside the interpreter running us (the virtualenv).
    mypy_plugin = Path(sys.executable).parent / "protoc-gen-mypy"
    args = [
        "grpc_tools.protoc",
        f"--plugin=protoc-gen-mypy={mypy_plugin}",
        f"-I{repo_root}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed for {', '.join(sources)}")
    return sorted((out_dir / "proto").glob("*_pb2*.py*"))


if __name__ == "__main__":
    written = generate(PROTO_DIR.parent)
    for path in written:
        print(path.relative_to(PROTO_DIR.parent))
    sys.exit(0)
