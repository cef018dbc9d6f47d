"""Every command of one fleet size as whole processes, in rounds, each beside its floor.

A round runs every command once, in an order that puts each command next to what it is compared
with; odd rounds run the order backwards, so drift in the machine's load falls on both sides of a
pair alike. Nothing a command writes is deleted until the whole run is over (except what a re-render
replaces, which is the point of measuring it): on a filesystem mounted with `discard`, as this
machine's is, deleting a large tree slows the next minutes' file creations, which would land on
whichever command came next.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import io_floor
from bench.fleets import TINY, Size, changed, fleet_doc, write_fleet
from bench.procs import CommandFailed, Sample, run, run_all

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MESHFLEET = str(BIN / "meshfleet")
"""The console script users run, in this interpreter's environment."""
IO_FLOOR_SCRIPT = ROOT / "bench" / "io_floor.py"

PARSE_FLOOR = "parse floor"
VALIDATE = "validate"
PLAN = "plan"
PLAN_INPROC = "plan, after imports"
PLAN_INPROC_TINY = "plan, after imports, 3 clusters"
ROUTES = "routes"
PLAN_JSON = "plan --format json"
PLAN_NEW = "plan, changed fleet"
DIFF = "diff --format markdown"
DIFF_INPROC = "diff, after imports"
DIFF_INPROC_TINY = "diff, after imports, 3 clusters"
IO_FLOOR = "I/O floor"
RENDER = "render"
RERENDER = "render over existing"
KUSTOMIZE = "kubectl kustomize"
COMMANDS = (
    PARSE_FLOOR,
    VALIDATE,
    PLAN,
    PLAN_INPROC,
    PLAN_INPROC_TINY,
    ROUTES,
    PLAN_JSON,
    PLAN_NEW,
    DIFF,
    DIFF_INPROC,
    DIFF_INPROC_TINY,
    IO_FLOOR,
    RENDER,
    RERENDER,
    KUSTOMIZE,
)
"""One round's order (odd rounds run it backwards)."""
INPROC = (PLAN_INPROC, PLAN_INPROC_TINY, DIFF_INPROC, DIFF_INPROC_TINY)
"""Not commands users run: the command's own time inside its process, after the imports (bench/inproc.py);
on the 3-cluster fleet, what it costs regardless of size."""

STARTUP = "meshfleet validate fleet/demo.yaml"
STARTUP_FLOOR = 'python -c "import pydantic, yaml"'
STARTUP_ROUNDS = 7
STARTUP_REFERENCES = {
    'python -c "from pydantic import BaseModel; import yaml"': "from pydantic import BaseModel; import yaml",
    'python -c "import meshfleet.fleet.model"': "import meshfleet.fleet.model",
}
"""Measured beside the start-up pair, judged by no target: `import pydantic` leaves pydantic's model
machinery unimported until a model is defined, and these show what defining models costs."""

PARSE_FLOOR_CODE = "import sys, yaml; yaml.load(open(sys.argv[1], 'rb'), Loader=yaml.CSafeLoader)"
IMPORT_FLOOR_CODE = "import pydantic, yaml"


def work_dir() -> Path:
    """Scratch space on the repository's filesystem, where users render (bench/work/, ignored by
    git); MESHFLEET_BENCH_WORK moves it, for the tests."""
    return Path(os.environ.get("MESHFLEET_BENCH_WORK") or ROOT / "bench" / "work")


def kubectl() -> str | None:
    return shutil.which("kubectl")


@dataclass(frozen=True)
class Files:
    """Where one size's fleets, outputs and captured standard outputs live."""

    where: Path

    @property
    def fleet(self) -> Path:
        return self.where / "fleet.yaml"

    @property
    def fleet_new(self) -> Path:
        return self.where / "fleet-new.yaml"

    @property
    def tiny(self) -> Path:
        return self.where / "tiny.yaml"

    @property
    def tiny_new(self) -> Path:
        return self.where / "tiny-new.yaml"

    @property
    def existing(self) -> Path:
        return self.where / "existing"

    @property
    def pack(self) -> Path:
        return self.where / "floor.pack"

    def stdout(self, command: str) -> Path:
        return self.where / ("stdout-" + "".join(c if c.isalnum() else "-" for c in command) + ".txt")


def argv(command: str, f: Files, round_no: int) -> list[list[str]]:
    """The process(es) a command runs in round `round_no`; several only for kubectl kustomize."""
    m = MESHFLEET
    inproc = [sys.executable, "-m", "bench.inproc"]
    simple: dict[str, list[str]] = {
        PARSE_FLOOR: [sys.executable, "-c", PARSE_FLOOR_CODE, str(f.fleet)],
        VALIDATE: [m, "validate", str(f.fleet)],
        PLAN: [m, "plan", str(f.fleet)],
        PLAN_INPROC: [*inproc, str(f.stdout(PLAN_INPROC)), "plan", str(f.fleet)],
        PLAN_INPROC_TINY: [*inproc, str(f.stdout(PLAN_INPROC_TINY)), "plan", str(f.tiny)],
        ROUTES: [m, "routes", str(f.fleet)],
        PLAN_JSON: [m, "plan", str(f.fleet), "--format", "json"],
        PLAN_NEW: [m, "plan", str(f.fleet_new)],
        DIFF: [m, "diff", str(f.fleet), str(f.fleet_new), "--format", "markdown"],
        DIFF_INPROC: [
            *inproc,
            str(f.stdout(DIFF_INPROC)),
            "diff",
            str(f.fleet),
            str(f.fleet_new),
            "--format",
            "markdown",
        ],
        DIFF_INPROC_TINY: [
            *inproc,
            str(f.stdout(DIFF_INPROC_TINY)),
            "diff",
            str(f.tiny),
            str(f.tiny_new),
            "--format",
            "markdown",
        ],
        IO_FLOOR: [sys.executable, str(IO_FLOOR_SCRIPT), str(f.pack), str(f.where / f"floor-{round_no}")],
        RENDER: [m, "render", str(f.fleet), "--out", str(f.where / f"render-{round_no}")],
        RERENDER: [m, "render", str(f.fleet), "--out", str(f.existing)],
    }
    if command in simple:
        return [simple[command]]
    if command == KUSTOMIZE:
        exe = kubectl()
        assert exe is not None
        return [[exe, "kustomize", str(d)] for d in cluster_dirs(f.existing)]
    raise KeyError(command)


def cluster_dirs(tree: Path) -> list[Path]:
    return sorted(d for d in tree.iterdir() if d.is_dir() and not d.name.startswith("."))


def tree_counts(tree: Path) -> dict[str, int]:
    """Objects, applied objects, files and bytes of a rendered tree: one file per object, the applied
    ones listed by a kustomization, predicted ones named `predicted.*`."""
    objects = applied = files = size = 0
    for d in cluster_dirs(tree):
        for p in d.iterdir():
            files += 1
            size += p.stat().st_size
            if p.name.endswith(".yaml") and p.name != "kustomization.yaml":
                objects += 1
                applied += not p.name.startswith("predicted.")
    for p in tree.iterdir():
        if p.is_file():
            files += 1
            size += p.stat().st_size
    return {
        "clusters": len(cluster_dirs(tree)),
        "objects": objects,
        "applied": applied,
        "files": files,
        "output_bytes": size,
    }


def prepare(size: Size, f: Files) -> dict[str, Any]:
    """The size's fleets and their changed copies (also on 3 clusters), one render as the existing
    output (also the warm-up) and the I/O floor's pack of that render; none of it timed."""
    f.where.mkdir(parents=True)
    doc = fleet_doc(size)
    new, change = changed(doc)
    write_fleet(doc, f.fleet)
    write_fleet(new, f.fleet_new)
    tiny = fleet_doc(TINY)
    write_fleet(tiny, f.tiny)
    write_fleet(changed(tiny)[0], f.tiny_new)
    run([MESHFLEET, "render", str(f.tiny), "--out", str(f.where / "tiny-render")], cwd=ROOT)
    run([MESHFLEET, "render", str(f.fleet), "--out", str(f.existing)], cwd=ROOT)
    io_floor.pack(f.existing, f.pack)
    exe = kubectl()
    if exe is not None:
        run([exe, "kustomize", str(cluster_dirs(f.existing)[0])], cwd=ROOT)  # kubectl's binary into the cache
    return {
        "size": size.name,
        "shape": {
            "clusters": size.shape.clusters,
            "services": size.shape.services,
            "exporters": size.shape.exporters,
            "control_plane": size.shape.control_plane,
        },
        "fleet_bytes": f.fleet.stat().st_size,
        "change": {
            "weights": list(change.weights),
            "export_removed": list(change.export_removed or ()),
            "access_added": change.access_added,
        },
        "tiny_objects": tree_counts(f.where / "tiny-render")["objects"],
        **tree_counts(f.existing),
    }


INPROC_CPU_S = 0.5
INPROC_MAX_RUNS = 7
INPROC_RUNS = f"runs in new processes adding up to {INPROC_CPU_S:g} s of CPU (at most {INPROC_MAX_RUNS})"
"""A command's own time is a difference of two CPU times, per object; at 1k it is hundredths of a second
(a diff of 972 objects: 0.06 s, of which 0.012 s fixed) and one run's noise is a fifth of it. So each
round runs it again, in new processes, until INPROC_CPU_S of CPU is spent (at most INPROC_MAX_RUNS
times), and takes the median."""


def measure_inproc(command: str, f: Files, round_no: int) -> Sample:
    report = f.where / "inproc.json"
    runs: list[Sample] = []
    while len(runs) < INPROC_MAX_RUNS and sum(s.cpu_s for s in runs) < INPROC_CPU_S:
        whole = run_all(argv(command, f, round_no), cwd=ROOT, stdout=report)
        inside = json.loads(report.read_text(encoding="utf-8"))
        runs.append(Sample(inside["wall_s"], inside["cpu_s"], whole.rss_kib, f.stdout(command).stat().st_size))
    return Sample(
        statistics.median(s.wall_s for s in runs),
        statistics.median(s.cpu_s for s in runs),
        max(s.rss_kib for s in runs),
        runs[-1].out_bytes,
    )


def measure_once(command: str, f: Files, round_no: int) -> Sample:
    if command in INPROC:
        return measure_inproc(command, f, round_no)
    out = f.stdout(command) if command not in (RENDER, RERENDER, IO_FLOOR) else None
    sample = run_all(argv(command, f, round_no), cwd=ROOT, stdout=out)
    if command == RERENDER:
        wait_removed(f.where, f.existing.name)
    return sample


def wait_removed(parent: Path, name: str, timeout_s: float = 900.0) -> None:
    """Wait, untimed, until the tree a re-render swapped out is gone: its removal runs detached after
    the command exits, and the next command measured must not share the disk and the cores with it."""
    prefix = f".{name}.meshfleet-"
    deadline = time.monotonic() + timeout_s
    while any(p.name.startswith(prefix) for p in parent.iterdir()):
        if time.monotonic() > deadline:
            raise CommandFailed(f"the tree swapped out of {parent / name} was not removed within {timeout_s:.0f} s")
        time.sleep(0.05)


def commands(with_kubectl: bool) -> list[str]:
    return [c for c in COMMANDS if c != KUSTOMIZE or with_kubectl]


def measure_size(
    size: Size,
    where: Path,
    *,
    rounds: int | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """`rounds` rounds of every command at one size; the files stay under `where` for the profiles."""
    f = Files(where)
    info = prepare(size, f)
    order = commands(kubectl() is not None)
    samples: dict[str, list[Sample]] = {c: [] for c in order}
    load: list[float] = []
    n = rounds if rounds is not None else size.rounds
    for r in range(n):
        log(f"  {size.name}: round {r + 1} of {n}")
        load.append(os.getloadavg()[0])
        for command in order if r % 2 == 0 else reversed(order):
            samples[command].append(measure_once(command, f, r))
    tree = {RENDER, RERENDER, IO_FLOOR}
    info["rounds"] = n
    info["load"] = load
    info["commands"] = {
        c: {
            "wall_s": [s.wall_s for s in ss],
            "cpu_s": [s.cpu_s for s in ss],
            "rss_kib": [s.rss_kib for s in ss],
            "out_bytes": info["output_bytes"] if c in tree else ss[-1].out_bytes,
        }
        for c, ss in samples.items()
    }
    return info


def measure_startup(rounds: int = STARTUP_ROUNDS) -> dict[str, Any]:
    """`meshfleet validate fleet/demo.yaml` against an interpreter importing pydantic and yaml, and
    the references beside them."""
    pairs = {
        STARTUP: [MESHFLEET, "validate", "fleet/demo.yaml"],
        STARTUP_FLOOR: [sys.executable, "-c", IMPORT_FLOOR_CODE],
        **{name: [sys.executable, "-c", code] for name, code in STARTUP_REFERENCES.items()},
    }
    samples: dict[str, list[Sample]] = {k: [] for k in pairs}
    for command in pairs.values():
        run(command, cwd=ROOT, sync=False)  # warm-up, not counted
    for r in range(rounds):
        for name in pairs if r % 2 == 0 else reversed(pairs):
            samples[name].append(run(pairs[name], cwd=ROOT, sync=False))
    return {
        "rounds": rounds,
        "commands": {
            k: {"wall_s": [s.wall_s for s in ss], "rss_kib": [s.rss_kib for s in ss]} for k, ss in samples.items()
        },
    }
