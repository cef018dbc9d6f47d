"""`make bench`: whole commands at about 1k, 10k and 100k objects against their floors, a printed table,
bench/results.json and the README's performance section.

Every command runs as its own process, as users run it. A partial run (`make bench SIZES=1k,10k`)
prints the same table but writes bench/work/results.json and leaves the committed results and the
README alone.
"""

from __future__ import annotations

import argparse
import compileall
import cProfile
import datetime
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import report, targets
from bench.fleets import SIZES, size_named
from bench.measure import (
    IMPORT_FLOOR_CODE,
    INPROC_RUNS,
    MESHFLEET,
    ROOT,
    STARTUP,
    Files,
    argv,
    kubectl,
    measure_size,
    measure_startup,
    work_dir,
)
from bench.procs import QUIET
from bench.profile import import_times, profile_command, summarize

RESULTS = ROOT / "bench" / "results.json"
README = ROOT / "README.md"
PULUMI_SIZE = "10k"
PULUMI_ROUNDS = 5

FLOORS = {
    "parse floor": "a new Python process that loads the same fleet file with PyYAML's C loader (libyaml), nothing else",
    "I/O floor": "a new Python process (`bench/io_floor.py`) that writes the rendered tree's exact bytes to the "
    "same files in a new directory and makes them durable with one syncfs, as render does",
    "diff floor": "two whole `meshfleet plan` runs, of the old fleet and of the new one",
    "kubectl kustomize": "`kubectl kustomize` over each rendered cluster directory, one process after another, "
    "times summed",
    "start-up floor": f'`python -c "{IMPORT_FLOOR_CODE}"`',
    "Pulumi floor": "one provider per cluster and one bare CustomResource per applied object with the same "
    "bodies, under the same mocks",
}
METHOD = {
    "time": "wall clock of the whole process, from spawn to exit (interpreter start-up, imports, parsing and "
    f"garbage collection included), all buffered writes flushed to disk (sync) before each, and the disk "
    f"quiet ({QUIET})",
    "memory": "peak RSS of the process (getrusage of the child); for kustomize, the largest of its processes",
    "rounds": "every command once per round, each next to what it is compared with; odd rounds run the "
    "order backwards; a pair's ratio is taken within each round",
    "status": "a target is met when the median ratio is within it at every size",
    "per object": "time per object and per KiB of rendered output, from the median wall time; for plan and diff "
    "also their own time per object: the CPU time of the command inside a fresh process after its "
    f"imports, ending with a full garbage collection (bench/inproc.py); in each round the median of "
    f"{INPROC_RUNS}",
    "change": "diff compares each fleet with itself after a typical change: three weights moved, one export "
    "removed, one access rule added",
    "profile": "for each missed target, one more run of its command under cProfile at the size where it is "
    "missed worst (start-up: -X importtime); cProfile slows Python code, so read shares, not seconds",
    "bytecode": "the project's modules are compiled to bytecode before the first measurement, as `pip install` "
    "does; where the interpreter may not write its cache (PYTHONDONTWRITEBYTECODE), every process would "
    "otherwise compile them again",
    "pulumi": "the real __main__.py under pulumi.runtime.set_mocks against the floor, each in a fresh interpreter, "
    "alternating; registration excludes loading and planning",
}


# --- machine -------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return None


def filesystem(path: Path) -> dict[str, str]:
    """The mount holding `path`: its type, device and options (e.g. `discard`, which slows creation
    after large deletions)."""
    best: list[str] = []
    target = str(path.resolve())
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return {"type": "unknown", "device": "unknown", "options": "", "mount": ""}
    for line in mounts:
        dev, point, kind, options, *_ = line.split()
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (not best or len(point) >= len(best[1])):
            best = [dev, point, kind, options]
    if not best:
        return {"type": "unknown", "device": "unknown", "options": "", "mount": ""}
    return {"type": best[2], "device": best[0], "options": best[3], "mount": best[1]}


def _kubectl_versions() -> tuple[str | None, str | None]:
    exe = kubectl()
    if exe is None:
        return None, None
    out = subprocess.run([exe, "version", "--client", "-o", "json"], capture_output=True, text=True)
    try:
        info = json.loads(out.stdout)
    except json.JSONDecodeError:
        return None, None
    return info.get("clientVersion", {}).get("gitVersion"), info.get("kustomizeVersion")


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine(work: Path) -> dict[str, Any]:
    import yaml

    kubectl_version, kustomize_version = _kubectl_versions()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "filesystem": filesystem(work),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pyyaml": yaml.__version__,
        "libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        "ruamel_yaml": _version("ruamel.yaml"),
        "pydantic": _version("pydantic"),
        "kubectl": kubectl_version,
        "kustomize": kustomize_version,
        "pulumi": _version("pulumi"),
        "pulumi_kubernetes": _version("pulumi-kubernetes"),
    }


# --- Pulumi workers ------------------------------------------------------------------------------


def worker(kind: str, size: str, where: Path, *, profile: bool = False) -> dict[str, Any]:
    """One Pulumi measurement in a fresh interpreter (Pulumi's runtime settings are process-global);
    with `profile`, under cProfile, returning the profile's summary instead."""
    extra = ["--profile-out", str(where / "prof")] if profile else []
    subprocess.run(
        [sys.executable, "-m", "bench.run", "--worker", kind, "--size", size, "--dir", str(where), *extra],
        cwd=ROOT,
        check=True,
    )
    if profile:
        return summarize(pstats.Stats(str(where / "prof")))
    loaded: dict[str, Any] = json.loads((where / "result.json").read_text(encoding="utf-8"))
    return loaded


def _run_worker(kind: str, size: str, where: Path, profile_out: str | None) -> dict[str, Any]:
    from bench import registration

    where.mkdir(parents=True)
    work = {"pulumi-program": registration.program, "pulumi-floor": registration.floor}[kind]
    if profile_out is None:
        return work(size_named(size), where)
    prof = cProfile.Profile()
    prof.enable()
    try:
        return work(size_named(size), where)
    finally:
        prof.disable()
        prof.dump_stats(profile_out)


def measure_pulumi(size: str, run_dir: Path, rounds: int = PULUMI_ROUNDS) -> dict[str, Any]:
    kinds = ("pulumi-program", "pulumi-floor")
    got: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for r in range(rounds):
        for kind in kinds if r % 2 == 0 else reversed(kinds):
            got[kind].append(worker(kind, size, run_dir / f"{kind}-{size}-{r}"))
    prog, floor = got["pulumi-program"], got["pulumi-floor"]
    ratios = [p["registration_s"] / f["seconds"] for p, f in zip(prog, floor, strict=True)]
    return {
        "size": size,
        "rounds": rounds,
        "objects": prog[0]["objects"],
        "providers": prog[0]["providers"],
        "floor_objects": floor[0]["objects"],
        "components": prog[0]["components"],
        "program_s": [p["seconds"] for p in prog],
        "registration_s": [p["registration_s"] for p in prog],
        "load_plan_s": [p["load_plan_s"] for p in prog],
        "floor_s": [f["seconds"] for f in floor],
        "ratios": ratios,
        **targets.spread(ratios),
    }


# --- the run -------------------------------------------------------------------------------------


def _profiles(results: dict[str, Any], run_dir: Path, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One profile per (command, size) that a missed target asks for, naming the targets it explains."""
    wanted = targets.profile_wanted(results["targets"], results["sizes"])
    out = []
    for command, at in dict.fromkeys(wanted.values()):
        log(f"profiling {command} at {at} ...")
        if command == "startup":
            summary = import_times([MESHFLEET, *STARTUP.split()[1:]])
        elif command == "pulumi":
            summary = worker("pulumi-program", at, run_dir / "pulumi" / "profile", profile=True)
        else:
            summary = profile_command(argv(command, Files(run_dir / at), 900)[0])
        shown = {"startup": STARTUP, "pulumi": "the Pulumi program"}.get(command, command)
        out.append(
            {"command": shown, "size": at, "targets": [t for t, w in wanted.items() if w == (command, at)], **summary}
        )
    return out


def compile_bytecode() -> None:
    """Compile the project's modules as an installed wheel has them: a user's `pip install` does, and a
    bench that recompiled them in every process would time the compiler, not meshfleet."""
    for package in ("meshfleet", "components"):
        if not compileall.compile_dir(ROOT / package, quiet=1):
            raise SystemExit(f"compileall failed in {ROOT / package}")


def collect(
    sizes: Sequence[str],
    pulumi_size: str | None,
    *,
    rounds: int | None = None,
    log: Callable[[str], None] = print,
    background_removal: bool = False,
) -> dict[str, Any]:
    """Every measurement; the files are deleted only at the end, in the background if asked: on a
    slow filesystem deleting the 100k trees takes minutes, which nobody needs to wait for."""
    work = work_dir()
    work.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    try:
        return _collect(sizes, pulumi_size, rounds, log, run_dir)
    finally:
        if background_removal:
            rm = subprocess.Popen(
                ["nice", "-n", "19", "rm", "-rf", "--", str(run_dir)],
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            log(f"removing the measurements' files ({run_dir}) in the background, process {rm.pid}")
        else:
            log("removing the measurements' files ...")
            shutil.rmtree(run_dir, ignore_errors=True)


def _collect(
    sizes: Sequence[str], pulumi_size: str | None, rounds: int | None, log: Callable[[str], None], run_dir: Path
) -> dict[str, Any]:
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(run_dir),
        "load": {"start": list(os.getloadavg())},
        "method": METHOD,
        "floors": FLOORS,
    }
    compile_bytecode()
    log("start-up ...")
    results["startup"] = targets.derive_startup(measure_startup())
    rows = []
    for name in sizes:
        log(f"measuring {name} ...")
        rows.append(targets.derive_size(measure_size(size_named(name), run_dir / name, rounds=rounds, log=log)))
    results["sizes"] = rows
    results["linearity"] = targets.linearity(rows)
    results["pulumi"] = None
    if pulumi_size is not None:
        log(f"Pulumi registration at {pulumi_size} ...")
        results["pulumi"] = measure_pulumi(pulumi_size, run_dir / "pulumi", rounds or PULUMI_ROUNDS)
    results["load"]["end"] = list(os.getloadavg())
    results["measured_s"] = time.perf_counter() - started
    results["targets"] = targets.evaluate_all(results)
    results["profiles"] = _profiles(results, run_dir, log)
    results["total_s"] = time.perf_counter() - started
    return results


def write_readme(results: dict[str, Any], readme: Path = README) -> None:
    text = readme.read_text(encoding="utf-8")
    readme.write_text(report.replace_block(text, report.readme_block(results)), encoding="utf-8")


# --- command line --------------------------------------------------------------------------------


def main(argv_: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--sizes", default=",".join(s.name for s in SIZES), help="comma-separated sizes (default: all)")
    p.add_argument("--rounds", type=int, help="rounds at every size (default: each size's own, at least 3)")
    p.add_argument("--pulumi-size", default=PULUMI_SIZE, help="fleet size for the Pulumi run, or 'none'")
    p.add_argument(
        "--out",
        help="where to write the results (default: bench/results.json for a full run, "
        "bench/work/results.json otherwise)",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: print the tables of bench/results.json and rewrite the README block from it",
    )
    p.add_argument("--worker", choices=("pulumi-program", "pulumi-floor"), help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    p.add_argument("--dir", help=argparse.SUPPRESS)
    p.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv_)

    if args.worker is not None:
        where = Path(args.dir)
        data = _run_worker(args.worker, args.size, where, args.profile_out)
        (where / "result.json").write_text(json.dumps(data), encoding="utf-8")
        # Pulumi's mock runtime leaves an event loop whose finalizer fails noisily at exit; the
        # result is written, so leave without finalizers.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    if args.report_only:
        stored = json.loads(RESULTS.read_text(encoding="utf-8"))
        sys.stdout.write(report.table(stored))
        write_readme(stored)
        return 0
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        size_named(s)
    full = sizes == [s.name for s in SIZES] and args.rounds is None
    pulumi = None if args.pulumi_size == "none" or args.pulumi_size not in sizes else args.pulumi_size
    results = collect(
        sizes,
        pulumi,
        rounds=args.rounds,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
        background_removal=True,
    )
    sys.stdout.write(report.table(results))
    out = Path(args.out) if args.out else RESULTS if full else work_dir() / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    if full and out == RESULTS:
        write_readme(results)
        print(f"rewrote the performance block of {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
