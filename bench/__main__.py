"""Runs every benchmark module of this folder (`*_bench.py`) and prints their ratios.

Each module exposes `main() -> dict[str, float]`: it prints its own details and returns
its ratios by name (ours divided by a baseline timed in the same run, higher is better).
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main() -> int:
    """Runs the benchmarks in name order; returns the process exit code."""
    names = sorted(p.stem for p in Path(__file__).parent.glob("*_bench.py"))
    ratios: dict[str, float] = {}
    started = time.perf_counter()
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.{name}")
        for key, value in module.main().items():
            ratios[f"{name}.{key}"] = value
    print(f"== ratios ({time.perf_counter() - started:.0f} s)")
    width = max((len(k) for k in ratios), default=0)
    for key, value in ratios.items():
        print(f"  {key:<{width}}  {value:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
