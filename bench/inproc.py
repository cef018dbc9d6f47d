"""A `meshfleet` command timed inside a fresh process, after its imports, with the garbage collector's
work finished inside the timed region: `python -m bench.inproc OUT COMMAND ARGS...` prints
{"wall_s", "cpu_s", "code"} and sends the command's output to OUT.

Why: whether plan and diff grow linearly with the fleet is a question about their own work. The
whole process adds a fixed start-up that hides it at small sizes, and on a shared machine the wall
clock of a sub-second process is mostly other people's load; the CPU time of the command alone,
collector pauses included, answers it.
"""

from __future__ import annotations

import gc
import importlib
import json
import pkgutil
import sys
import time


def import_all() -> None:
    """Every meshfleet module, before the clock starts: the CLI imports a command's modules when the
    command runs, and a first import timed inside the command is a fixed cost that the subtraction of
    the 3-cluster run only removes up to the noise of two sub-second figures."""
    import meshfleet

    for module in pkgutil.walk_packages(meshfleet.__path__, "meshfleet."):
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)


def main(argv: list[str]) -> int:
    out_path, *args = argv
    from meshfleet import cli

    import_all()  # the imports, before the clock starts

    gc.collect()
    real_stdout = sys.stdout
    with open(out_path, "w", encoding="utf-8") as out:
        sys.stdout = out
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            code = cli.main(args)
            gc.collect()  # what the command left for the collector is its cost too
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            sys.stdout = real_stdout
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "code": code}))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
