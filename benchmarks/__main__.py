"""Run every benchmark module of this package in turn: `python -m benchmarks`.

A benchmark module is any `*_bench` module here exposing `main()`; handler_bench runs
first. A module that cannot be imported is reported and skipped, not fatal, so a
benchmark still being written elsewhere does not stop the others.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

FIRST = ("handler_bench", "gateway_bench")


def bench_modules() -> list[str]:
    found = {info.name for info in pkgutil.iter_modules([str(Path(__file__).parent)])
             if info.name.endswith("_bench")}
    return [name for name in FIRST if name in found] + sorted(found.difference(FIRST))


def run() -> int:
    names = bench_modules()
    if not names:
        print("no benchmark modules found in benchmarks/", file=sys.stderr)
        return 1
    for name in names:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ImportError as err:
            print(f"== {name}: skipped, it cannot be imported ({err})", flush=True)
            continue
        print(f"== {name}", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(run())
