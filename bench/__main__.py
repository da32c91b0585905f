"""Run the benchmarks: ``python -m bench [--tiny] [name ...]``.

``--tiny`` runs each at a size that only proves it still works (what CI does); the full
size is what docs/performance.md's numbers come from.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time

import bench


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--tiny", action="store_true", help="smallest size, to check the benchmarks still run")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all), e.g. platform registry")
    args = parser.parse_args()
    names = args.names or sorted(
        m.name.removeprefix("bench_") for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    size = "tiny" if args.tiny else "full"
    if args.tiny:
        # A verdict at this size ("NOT met" included) says nothing about the targets: a few hundred
        # requests measure start-up and warm-up more than the steady rate.
        print("tiny size: proves each benchmark runs; the targets are for the full size (python -m bench)", flush=True)
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        print(f"== {name} ({size}) ==", flush=True)
        started = time.perf_counter()
        module.run(size)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
